import { loadConfig } from "@berth/platform";
import { McpServerInstanceCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { findFreePort, useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServiceProcess, spawnService } from "../../../test/support/service-process.js";
import { runtimeEnv, runtimeScope } from "../src/config.js";
import { connectMcp } from "./support/mcp-helpers.js";
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

describe("a runtime killed at any moment converges when started again", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let publisher: EventPublisher;
  let env: Record<string, string>;
  const processes: ServiceProcess[] = [];

  // A fresh runtime process (tsx) takes a while to come up on a busy machine.
  const running = (port: number, instanceId: string) => {
    const client = runtimeClient(port);
    return waitFor(
      "RUNNING",
      async () => {
        const { workload } = await client.getWorkload({ instanceId });
        return workload?.state === WorkloadState.RUNNING ? workload : undefined;
      },
      90_000,
    );
  };

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    publisher = await createPublisher(engines.natsUrl);
    env = runtimeTestEnv(engines, runId);
  });
  afterAll(async () => {
    for (const process of processes) await process.stop();
    await publisher?.close();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("leaves exactly one container after a kill between container start and health", async () => {
    const instance = instanceSnapshot({
      spec: {
        type: "docker",
        image: IMAGES.stdio,
        transport: "stdio",
        health_check: { interval: 2, timeout: 5 },
      },
    });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );

    const doomed = spawnService("runtime", {
      ...env,
      BERTH_FAILPOINTS: "runtime.after-container-start",
    });
    processes.push(doomed);
    const exit = await Promise.race([
      doomed.exited,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no crash: ${doomed.output().stderr}`)), 60_000),
      ),
    ]);
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    const [orphan] = await containersOf(instance.id);
    expect(orphan).toBeDefined();

    // An object of this runtime's scope whose instance nobody knows: reconciliation removes it.
    const scope = runtimeScope(loadConfig(runtimeEnv, env));
    const stray = await docker.createContainer({
      Image: IMAGES.stdio,
      Labels: {
        "berth.managed": "true",
        "berth.scope": scope,
        "berth.instance": "gone-instance",
        "berth.generation": "1",
        "berth.test": runId,
      },
    });

    const port = await findFreePort();
    const revived = spawnService("runtime", { ...env, GRPC_PORT: String(port) });
    processes.push(revived);
    await running(port, instance.id);
    const containers = await containersOf(instance.id);
    expect(containers).toHaveLength(1);
    expect(containers[0]!.State).toBe("running");
    await waitFor("the stray container to be removed", async () => {
      const found = await docker.listContainers({ all: true, filters: { id: [stray.id] } });
      return found.length === 0 ? true : undefined;
    });

    const endpoint = await runtimeClient(port).resolveEndpoint({ instanceId: instance.id });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    await mcp.callTool({ name: "echo", arguments: { message: "after the crash" } });
    await mcp.close();
    expect(await revived.stop()).toEqual({ code: 0, signal: null });
  }, 240_000);

  it("adopts a running http container after a restart instead of starting another", async () => {
    const instance = instanceSnapshot({
      spec: {
        type: "docker",
        image: IMAGES.http,
        transport: "http",
        port: 3001,
        health_check: { interval: 1, timeout: 5 },
      },
    });
    const first = await startTestRuntime(env);
    try {
      await publisher.publish(
        McpServerInstanceCreatedSchema,
        create(McpServerInstanceCreatedSchema, { instance }),
        1,
        instance.id,
      );
      await running(first.port, instance.id);
    } finally {
      await first.stop();
    }
    // The server and its port guard: both are taken over, neither is started again.
    const before = (await containersOf(instance.id)).map((c) => c.Id).sort();
    expect(before).toHaveLength(2);
    const second = await startTestRuntime(env);
    try {
      await running(second.port, instance.id);
      const after = (await containersOf(instance.id)).map((c) => c.Id).sort();
      expect(after).toEqual(before);
    } finally {
      await second.stop();
    }
  });
});
