import { Code, connectNats, listDeadLetters } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
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

describe("docker driver: a Streamable HTTP MCP server on a loopback port", () => {
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

  it("becomes RUNNING and answers tools/list and tools/call on its published port", async () => {
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    await reaches(instance.id, WorkloadState.RUNNING);
    const [summary] = await containersOf(instance.id);
    const info = await docker.getContainer(summary!.Id).inspect();
    const binding = info.NetworkSettings.Ports["3001/tcp"]?.[0];
    expect(binding?.HostIp).toBe("127.0.0.1");
    expect(info.HostConfig.PortBindings).toEqual({
      "3001/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }],
    });
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
    expect(endpoint.headers).toEqual({});
    const mcp = await connectMcp(endpoint.url);
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
    expect(now).toHaveLength(1);
    expect(now[0]!.Id).not.toBe(old!.Id);
    expect(now[0]!.Labels["berth.generation"]).toBe("2");
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
    expect(await containersOf(instance.id)).toHaveLength(1);
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
