import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { Code, connectNats, GUARD_HEADER, listDeadLetters } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStoppedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../src/index.js";
import { connectMcp, statusEvents } from "./support/mcp-helpers.js";
import { REACH_SCRIPT } from "./support/reach-script.js";
import {
  containersOf,
  createPublisher,
  docker,
  type EventPublisher,
  ensureImages,
  IMAGES,
  instanceSnapshot,
  newRunId,
  removeLeftovers,
  runtimeClient,
  runtimeTestEnv,
  startTestRuntime,
  waitFor,
} from "./support/runtime-harness.js";

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "stranger", version: "1" },
  },
};

describe("docker driver: a Streamable HTTP MCP server behind its port guard", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let runtime: Runtime;
  let publisher: EventPublisher;
  let client: ReturnType<typeof runtimeClient>;
  const spec = {
    type: "docker",
    image: IMAGES.http,
    transport: "streamable-http",
    port: 3001,
    path: "/mcp",
    health_check: { interval: 2, timeout: 5 },
  };
  const instance = instanceSnapshot({ spec });

  const serverAndGuard = async (instanceId: string) => {
    const all = await containersOf(instanceId);
    const server = all.find((c) => c.Labels["berth.role"] === undefined);
    const guard = all.find((c) => c.Labels["berth.role"] === "guard");
    expect(all).toHaveLength(2);
    return { server: server!, guard: guard! };
  };
  const stateOf = async (instanceId: string) =>
    (await client.getWorkload({ instanceId })).workload?.state;
  const reaches = (instanceId: string, state: WorkloadState, generation = 1n) =>
    waitFor(`state ${WorkloadState[state]}`, async () => {
      const { workload } = await client.getWorkload({ instanceId });
      return workload?.state === state && workload.generation === generation ? workload : undefined;
    });

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    runtime = await startTestRuntime(runtimeTestEnv(engines, runId));
    publisher = await createPublisher(engines.natsUrl);
    client = runtimeClient(runtime.port);
  });
  afterAll(async () => {
    await publisher?.close();
    await runtime?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("becomes RUNNING and answers tools/list and tools/call through its port guard only", async () => {
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    await reaches(instance.id, WorkloadState.RUNNING);
    const { server: summary, guard: guardSummary } = await serverAndGuard(instance.id);
    const info = await docker.getContainer(summary.Id).inspect();
    // The server publishes nothing and sits on its instance's internal network only.
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([`berth-${instance.id}`]);
    const network = await docker.getNetwork(`berth-${instance.id}`).inspect();
    expect(network.Internal).toBe(true);
    // The guard publishes the one port, on loopback, and has no credential in its config.
    const guardInfo = await docker.getContainer(guardSummary.Id).inspect();
    const binding = guardInfo.NetworkSettings.Ports["8080/tcp"]?.[0];
    expect(binding?.HostIp).toBe("127.0.0.1");
    expect(guardInfo.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    // Defaults when json_spec has no resources.
    expect(info.HostConfig).toMatchObject({
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1e9,
      PidsLimit: 256,
    });

    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    expect(endpoint.url).toBe(`http://127.0.0.1:${binding?.HostPort}/mcp`);
    const credential = endpoint.headers[GUARD_HEADER];
    expect(credential).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(guardInfo)).not.toContain(credential);
    expect(JSON.stringify(info)).not.toContain(credential);

    // Any local process without the credential: 401, and no MCP answer.
    const stranger = await fetch(endpoint.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(INITIALIZE),
    });
    expect(stranger.status).toBe(401);
    expect(await stranger.text()).not.toContain("jsonrpc");
    // The credential as an ordinary bearer header does not open the port either.
    const asHeader = await fetch(endpoint.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${credential}`,
        [GUARD_HEADER]: credential!,
      },
      body: JSON.stringify(INITIALIZE),
    });
    expect(asHeader.status).toBe(401);
    // A wrong credential on the guard's own handshake: refused the same way.
    await expect(connectMcp(endpoint.url, { [GUARD_HEADER]: "f".repeat(64) })).rejects.toThrow();

    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      expect((await mcp.listTools()).tools.map((t) => t.name)).toContain("get-sum");
      const sum = await mcp.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(sum.content)).toContain("5");
    } finally {
      await mcp.close();
    }
  });

  it("replaces the container when a new generation arrives", async () => {
    const [old] = await containersOf(instance.id);
    const next = instanceSnapshot({
      id: instance.id,
      name: instance.name,
      spec: { ...spec, environment: { LEVEL: "2" } },
      generation: 2,
      revision: 2,
    });
    await publisher.publish(
      McpServerInstanceUpdatedSchema,
      create(McpServerInstanceUpdatedSchema, { instance: next }),
      2,
      instance.id,
    );
    await reaches(instance.id, WorkloadState.RUNNING, 2n);
    const now = await containersOf(instance.id);
    expect(now).toHaveLength(2); // the server and its guard
    expect(now.map((c) => c.Id)).not.toContain(old!.Id);
    expect(now.map((c) => c.Labels["berth.generation"])).toEqual(["2", "2"]);
  });

  it("keeps nothing running when stopped, and starts again on start", async () => {
    const stopped = instanceSnapshot({
      id: instance.id,
      spec,
      generation: 2,
      revision: 3,
      desired: "stopped",
    });
    await publisher.publish(
      McpServerInstanceStoppedSchema,
      create(McpServerInstanceStoppedSchema, { instance: stopped }),
      3,
      instance.id,
    );
    await reaches(instance.id, WorkloadState.STOPPED, 2n);
    expect(await containersOf(instance.id)).toEqual([]);
    const events = await statusEvents(
      engines.natsUrl,
      instance.id,
      (all) => all.at(-1)?.status === InstanceStatus.STOPPED,
    );
    expect(events.slice(-2).map((e) => e.status)).toEqual([
      InstanceStatus.STOPPING,
      InstanceStatus.STOPPED,
    ]);

    // An older event redelivered late changes nothing.
    await publisher.publish(
      McpServerInstanceUpdatedSchema,
      create(McpServerInstanceUpdatedSchema, { instance: { ...stopped, desiredState: 1 } }),
      2,
      instance.id,
    );
    await runtime.reconcile();
    expect(await stateOf(instance.id)).toBe(WorkloadState.STOPPED);
    expect(await containersOf(instance.id)).toEqual([]);

    const started = instanceSnapshot({ id: instance.id, spec, generation: 3, revision: 4 });
    await publisher.publish(
      McpServerInstanceStartedSchema,
      create(McpServerInstanceStartedSchema, { instance: started }),
      4,
      instance.id,
    );
    await reaches(instance.id, WorkloadState.RUNNING, 3n);
    expect(await containersOf(instance.id)).toHaveLength(2);
  });

  /**
   * Runs REACH_SCRIPT as an http instance's server (the everything image's node) and returns what
   * it saw, and whether the host listener the test opened on every interface was dialled.
   */
  const reachFromServer = async (networkEgress: boolean, hosts: string[]) => {
    let dialled = 0;
    const listener = createServer((socket) => {
      dialled += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "0.0.0.0", resolve));
    const port = (listener.address() as AddressInfo).port;
    const probe = instanceSnapshot({
      spec: {
        type: "docker",
        image: IMAGES.http,
        transport: "streamable-http",
        port: 3001,
        command: ["/usr/local/bin/node", "-e", REACH_SCRIPT],
        environment: { PROBE_PORT: String(port), PROBE_HOSTS: hosts.join(",") },
        network_egress: networkEgress,
        health_check: { interval: 30, timeout: 5 },
      },
    });
    try {
      await publisher.publish(
        McpServerInstanceCreatedSchema,
        create(McpServerInstanceCreatedSchema, { instance: probe }),
        1,
        probe.id,
      );
      const lines = await waitFor(
        "the reach script's report",
        async () => {
          const server = (await containersOf(probe.id)).find((c) => !c.Labels["berth.role"]);
          if (!server) return undefined;
          const log = await docker
            .getContainer(server.Id)
            .logs({ stdout: true, stderr: true, follow: false });
          const text = log.toString("utf8");
          if (!text.includes("REACH done")) return undefined;
          return [...text.matchAll(/REACH (\S+) (\S+)/g)]
            .filter((m) => m[1] !== "done")
            .map((m) => ({ host: m[1]!, result: m[2]! }));
        },
        30_000,
      );
      return { lines, dialled };
    } finally {
      await new Promise((resolve) => listener.close(resolve));
      await publisher.publish(
        McpServerInstanceDeletedSchema,
        create(McpServerInstanceDeletedSchema, { instanceId: probe.id, generation: 1n }),
        2,
        probe.id,
      );
    }
  };

  it("gives an http server no route to the host or the internet", async () => {
    const bridge = await docker.getNetwork("bridge").inspect();
    const hostBridge = bridge.IPAM?.Config?.[0]?.Gateway ?? "172.17.0.1";
    const { lines, dialled } = await reachFromServer(false, [
      hostBridge,
      "host.docker.internal",
      "1.1.1.1",
    ]);
    // The script also tries its own network's first address (where a gateway would be).
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) expect(line.result, line.host).not.toBe("ok");
    expect(dialled).toBe(0);
  });

  it("lets an http server reach the host when its catalog entry asks for egress", async () => {
    // Only its own network's gateway (the host): nothing is sent beyond this machine.
    const { lines, dialled } = await reachFromServer(true, []);
    expect(lines.map((line) => line.result)).toContain("ok");
    expect(dialled).toBeGreaterThan(0);
  });

  it("fails with a message naming a missing image, and does not retry it", async () => {
    const missing = instanceSnapshot({
      spec: { type: "docker", image: "berth/not-built:0", transport: "stdio" },
    });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance: missing }),
      1,
      missing.id,
    );
    const workload = await reaches(missing.id, WorkloadState.FAILED);
    expect(workload.message).toContain("image berth/not-built:0 is not present");
    await runtime.reconcile();
    const events = await statusEvents(engines.natsUrl, missing.id, (all) => all.length >= 2);
    expect(events.map((e) => e.status)).toEqual([InstanceStatus.STARTING, InstanceStatus.FAILED]);
    expect(await containersOf(missing.id)).toEqual([]);
  });

  it("dead-letters an event whose json_spec is invalid, naming the fields, and runs nothing", async () => {
    const bad = instanceSnapshot({ spec: { type: "docker", transport: "carrier-pigeon" } });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance: bad }),
      1,
      bad.id,
    );
    const nc = await connectNats(engines.natsUrl, "dead-letter-reader");
    try {
      const letter = await waitFor("a dead letter", async () =>
        (await listDeadLetters(nc, { pageSize: 100, service: "runtime" })).deadLetters.find(
          (d) => d.aggregateId === bad.id,
        ),
      );
      expect(letter.reason).toContain("json_spec.image");
      expect(letter.reason).toContain("json_spec.transport must be stdio or http");
    } finally {
      await nc.drain();
    }
    await expect(client.getWorkload({ instanceId: bad.id })).rejects.toMatchObject({
      code: Code.NotFound,
    });
    expect(await containersOf(bad.id)).toHaveLength(0);
  });
});
