import { McpServerInstanceCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../src/index.js";
import {
  createPublisher,
  type EventPublisher,
  IMAGES,
  instanceSnapshot,
  newRunId,
  runtimeClient,
  runtimeTestEnv,
  startTestRuntime,
  waitFor,
} from "./support/runtime-harness.js";

describe("without a reachable Docker engine", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let runtime: Runtime;
  let publisher: EventPublisher;

  beforeAll(async () => {
    engines = await useEngines();
    const env = runtimeTestEnv(engines, newRunId(), {
      DOCKER_HOST: "unix:///tmp/berth-no-such-docker.sock",
    });
    runtime = await startTestRuntime(env);
    publisher = await createPublisher(engines.natsUrl);
  });
  afterAll(async () => {
    await publisher?.close();
    await runtime?.stop();
    await engines?.cleanup();
  });

  it("starts anyway, and docker workloads wait for the engine instead of failing", async () => {
    const instance = instanceSnapshot({ spec: { type: "docker", image: IMAGES.stdio } });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    const client = runtimeClient(runtime.port);
    const workload = await waitFor("the workload to wait for Docker", async () => {
      const { workload } = await client.getWorkload({ instanceId: instance.id });
      return workload?.message.includes("Docker") ? workload : undefined;
    });
    expect(workload).toMatchObject({
      state: WorkloadState.STARTING,
      message: "waiting for the Docker engine to answer",
      restartCount: 0,
    });
    // Still waiting a few retries later: no restart is used up, nothing is FAILED.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const later = (await client.getWorkload({ instanceId: instance.id })).workload;
    expect(later).toMatchObject({ state: WorkloadState.STARTING, restartCount: 0 });
  });
});
