/**
 * The runtime with BERTH_RUNTIME_DOCKER_DRIVER=kubernetes: instance events in (real NATS JetStream,
 * real Postgres), Kubernetes objects out, through the real @kubernetes/client-node against the
 * in-process API server of test/support/fake-kube-api.ts (no cluster runs here: see
 * kubernetes-e2e.test.ts for a real one). The stdio pod is played by a real server-everything
 * process, reached through the attach API and the runtime's bridge.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  type McpServerInstanceStatusChanged,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../src/index.js";
import { type FakeKubeApi, startFakeKubeApi } from "./support/fake-kube-api.js";
import { connectMcp, statusEvents } from "./support/mcp-helpers.js";
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

const NAMESPACE = "berth-workloads";
const EVERYTHING = createRequire(import.meta.url).resolve(
  "@modelcontextprotocol/server-everything/dist/index.js",
);

describe("the runtime on the Kubernetes driver", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let api: FakeKubeApi;
  let dir: string;
  let runtime: Runtime;
  let publisher: EventPublisher;
  let client: ReturnType<typeof runtimeClient>;
  const instance = instanceSnapshot({
    id: randomUUID(),
    spec: {
      type: "docker",
      image: IMAGES.stdio,
      transport: "stdio",
      resources: { memory_limit: "256m", cpu_limit: "0.5" },
      health_check: { interval: 2, timeout: 5 },
    },
  });
  const deployments = () =>
    api.objects("deployments").filter((d) => d.metadata.labels["berth.instance"] === instance.id);

  beforeAll(async () => {
    engines = await useEngines();
    api = await startFakeKubeApi({
      programs: { [IMAGES.stdio]: { command: process.execPath, args: [EVERYTHING, "stdio"] } },
    });
    dir = await mkdtemp(join(tmpdir(), "berth-kube-"));
    const kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig(), { mode: 0o600 });
    runtime = await startTestRuntime(
      runtimeTestEnv(engines, runId, {
        BERTH_RUNTIME_DOCKER_DRIVER: "kubernetes",
        KUBECONFIG: kubeconfig,
        BERTH_KUBERNETES_NAMESPACE: NAMESPACE,
      }),
    );
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
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    await engines?.cleanup();
  });

  it("runs a created instance as a Deployment and serves MCP through attach and the bridge", async () => {
    const workload = await waitFor("the workload to be RUNNING", async () => {
      const { workload } = await client.getWorkload({ instanceId: instance.id });
      return workload?.state === WorkloadState.RUNNING ? workload : undefined;
    });
    expect(workload.generation).toBe(1n);
    expect(deployments()).toHaveLength(1);
    const deployment = deployments()[0]!;
    expect(deployment).toMatchObject({
      metadata: { name: `berth-${instance.id}`, namespace: NAMESPACE },
      spec: { replicas: 1 },
    });
    expect(deployment.spec.template.spec.containers[0].resources.limits).toEqual({
      memory: String(256 * 1024 * 1024),
      cpu: "500m",
    });
    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    expect(endpoint.url).toBe(
      `http://127.0.0.1:${runtime.bridgePort}/instances/${instance.id}/mcp`,
    );
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      const result = await mcp.callTool({ name: "echo", arguments: { message: "via kubernetes" } });
      expect(result.content).toEqual([{ type: "text", text: "Echo: via kubernetes" }]);
    } finally {
      await mcp.close();
    }
  });

  it("deletes the Deployment and its dependents on delete and reports the workload removed", async () => {
    await publisher.publish(
      McpServerInstanceDeletedSchema,
      create(McpServerInstanceDeletedSchema, { instanceId: instance.id, generation: 1n }),
      2,
      instance.id,
    );
    const events = await statusEvents(engines.natsUrl, instance.id, (all) =>
      all.some((e) => e.removed),
    );
    expect(events.filter((e: McpServerInstanceStatusChanged) => e.removed)).toHaveLength(1);
    expect(deployments()).toEqual([]);
    for (const resource of ["pods", "networkpolicies", "secrets", "services"]) {
      const left = api
        .objects(resource)
        .filter((o) => o.metadata.labels?.["berth.instance"] === instance.id);
      expect(left, resource).toEqual([]);
    }
    const missing = await client.getWorkload({ instanceId: instance.id }).catch((e: unknown) => e);
    expect(ConnectError.from(missing).code).toBe(Code.NotFound);
  });
});
