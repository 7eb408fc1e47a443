import { Code, ConnectError } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  type McpServerInstanceStatusChanged,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../src/index.js";
import { connectMcp, statusEvents } from "./support/mcp-helpers.js";
import {
  containersOf,
  createPublisher,
  docker,
  type EventPublisher,
  ensureImages,
  IMAGES,
  instanceSnapshot,
  leftovers,
  newRunId,
  removeLeftovers,
  runtimeClient,
  runtimeTestEnv,
  startTestRuntime,
  waitFor,
} from "./support/runtime-harness.js";

describe("docker driver: an stdio MCP server served through the bridge", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let runtime: Runtime;
  let publisher: EventPublisher;
  let client: ReturnType<typeof runtimeClient>;
  const instance = instanceSnapshot({
    spec: {
      type: "docker",
      image: IMAGES.stdio,
      transport: "stdio",
      environment: { GREETING: "hello" },
      resources: { memory_limit: "256m", cpu_limit: "0.5", pids_limit: 64 },
      health_check: { interval: 2, timeout: 5 },
    },
  });

  const running = () =>
    waitFor("the workload to be RUNNING", async () => {
      const { workload } = await client.getWorkload({ instanceId: instance.id });
      return workload?.state === WorkloadState.RUNNING ? workload : undefined;
    });

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    runtime = await startTestRuntime(runtimeTestEnv(engines, runId));
    publisher = await createPublisher(engines.natsUrl);
    client = runtimeClient(runtime.port);
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
  });
  afterAll(async () => {
    await publisher?.close();
    await runtime?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("becomes RUNNING and answers tools/list and tools/call with the MCP SDK client", async () => {
    const workload = await running();
    expect(workload).toMatchObject({ driver: "docker", generation: 1n, restartCount: 0 });
    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    expect(endpoint.url).toBe(
      `http://127.0.0.1:${runtime.bridgePort}/instances/${instance.id}/mcp`,
    );
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      expect((await mcp.listTools()).tools.map((t) => t.name)).toContain("echo");
      const result = await mcp.callTool({ name: "echo", arguments: { message: "hello berth" } });
      expect(result.content).toEqual([{ type: "text", text: "Echo: hello berth" }]);
    } finally {
      await mcp.close();
    }
    // The bridge refuses callers without the token ResolveEndpoint hands out.
    const anonymous = await fetch(endpoint.url, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);

    const events = await statusEvents(engines.natsUrl, instance.id, (all) =>
      all.some((e) => e.status === InstanceStatus.RUNNING),
    );
    expect(events.map((e) => e.status)).toEqual([InstanceStatus.STARTING, InstanceStatus.RUNNING]);
    expect(events.map((e) => e.sequence)).toEqual([1n, 2n]);
    expect(events[1]).toMatchObject({ generation: 1n, endpoint: endpoint.url, removed: false });
  });

  it("serves ten clients at once from one server process, each with its own answers", async () => {
    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    const clients = await Promise.all(
      Array.from({ length: 10 }, () => connectMcp(endpoint.url, endpoint.headers)),
    );
    try {
      const answers = await Promise.all(
        clients.flatMap((mcp, c) =>
          Array.from({ length: 5 }, async (_, n) => {
            const message = `client ${c} call ${n}`;
            const result = await mcp.callTool({ name: "echo", arguments: { message } });
            return { message, text: (result.content as Array<{ text: string }>)[0]?.text };
          }),
        ),
      );
      expect(answers).toHaveLength(50);
      for (const answer of answers) expect(answer.text).toBe(`Echo: ${answer.message}`);
      // Each client also got its own initialize answer and lists tools on its own session.
      const lists = await Promise.all(clients.map((mcp) => mcp.listTools()));
      for (const list of lists) expect(list.tools.map((t) => t.name)).toContain("echo");
    } finally {
      await Promise.all(clients.map((mcp) => mcp.close()));
    }
    const [container] = await containersOf(instance.id);
    const top = await docker.getContainer(container!.Id).top();
    expect(top.Processes).toHaveLength(1);
  });

  it("runs the container with its limits and hardening (docker inspect)", async () => {
    const [summary] = await containersOf(instance.id);
    const info = await docker.getContainer(summary!.Id).inspect();
    expect(info.Name).toBe(`/berth-${instance.id}-g1`);
    expect(info.Config.Labels).toMatchObject({
      "berth.managed": "true",
      "berth.instance": instance.id,
      "berth.generation": "1",
      "berth.scope": runtime.scope,
    });
    expect(info.Config.User).toBe("65534:65534");
    expect(info.Config.OpenStdin).toBe(true);
    expect(info.Config.Env).toContain("GREETING=hello");
    const host = info.HostConfig;
    expect(host.Memory).toBe(256 * 1024 * 1024);
    expect(host.NanoCpus).toBe(500_000_000);
    expect(host.PidsLimit).toBe(64);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m" });
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.SecurityOpt).toEqual(["no-new-privileges"]);
    // An stdio server talks only through its stdin and stdout: no network at all.
    expect(host.NetworkMode).toBe("none");
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual(["none"]);
    expect(info.NetworkSettings.Ports ?? {}).toEqual({});
  });

  it("serves the tool list the probe saw and the container's log lines", async () => {
    const { tools, observedTime } = await client.listInstanceTools({ instanceId: instance.id });
    expect(tools.map((t) => t.name)).toContain("echo");
    expect(tools.find((t) => t.name === "echo")?.inputSchema).toMatchObject({ type: "object" });
    expect(observedTime).toBeDefined();
    const lines: Array<{ line: string; stream: string }> = [];
    for await (const line of client.streamLogs({ instanceId: instance.id, tailLines: 10_000 })) {
      lines.push({ line: line.line, stream: line.stream });
      expect(line.time).toBeDefined();
    }
    expect(lines).toContainEqual({ line: "Starting default (STDIO) server...", stream: "stderr" });
    // stdout carries the MCP traffic itself (the probes' tools/list answers among it).
    expect(lines.some((l) => l.stream === "stdout" && l.line.includes('"jsonrpc"'))).toBe(true);
    const { workloads } = await client.listWorkloads({});
    expect(workloads.map((w) => w.instanceId)).toEqual([instance.id]);
  });

  it("brings a killed container back and says what happened", async () => {
    const [before] = await containersOf(instance.id);
    await docker.getContainer(before!.Id).kill();
    const workload = await waitFor("a replacement container, RUNNING", async () => {
      const { workload } = await client.getWorkload({ instanceId: instance.id });
      const [now] = await containersOf(instance.id);
      return workload?.state === WorkloadState.RUNNING && now && now.Id !== before!.Id
        ? workload
        : undefined;
    });
    // One crash, one restart; a replacement whose first probes time out on a loaded machine may
    // be restarted once more (seen under the full suite), which is the policy working, not a leak.
    expect(workload.restartCount).toBeGreaterThanOrEqual(1);
    expect(await containersOf(instance.id)).toHaveLength(1);
    const events = await statusEvents(
      engines.natsUrl,
      instance.id,
      (all) => all.length >= 5 && all.at(-1)?.status === InstanceStatus.RUNNING,
    );
    const crash = events.find((e) => e.status === InstanceStatus.UNHEALTHY);
    expect(crash?.message).toMatch(/container exited with code 137; restart 1 of 5/);
    expect(
      events.at(-1)?.status,
      JSON.stringify(events.map((e) => [InstanceStatus[e.status], e.message])),
    ).toBe(InstanceStatus.RUNNING);
    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    await mcp.callTool({ name: "echo", arguments: { message: "again" } });
    await mcp.close();
  });

  it("removes the container and network on delete, reports removed, and a repeat is harmless", async () => {
    const deleted = create(McpServerInstanceDeletedSchema, {
      instanceId: instance.id,
      generation: 1n,
    });
    await publisher.publish(McpServerInstanceDeletedSchema, deleted, 2, instance.id);
    await publisher.publish(McpServerInstanceDeletedSchema, deleted, 2, instance.id);
    const events = await statusEvents(engines.natsUrl, instance.id, (all) =>
      all.some((e) => e.removed),
    );
    expect(events.filter((e: McpServerInstanceStatusChanged) => e.removed)).toHaveLength(1);
    const left = await leftovers(runId);
    expect(left.containers).toEqual([]);
    expect(left.networks).toEqual([]);
    const missing = await client.getWorkload({ instanceId: instance.id }).catch((e: unknown) => e);
    expect(ConnectError.from(missing).code).toBe(Code.NotFound);
  });
});
