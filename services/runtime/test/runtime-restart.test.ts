import { createServiceClient } from "@berth/platform";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { findFreePort, useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  meshIdentity,
  serviceMeshEnv,
  startMesh,
  type TestMesh,
} from "../../../test/support/mesh.js";
import { type ServiceProcess, spawnService } from "../../../test/support/service-process.js";
import { type LocalMcpServer, startLocalMcpServer } from "./support/local-mcp-server.js";
import {
  containersOf,
  ensureImages,
  IMAGES,
  newRunId,
  removeLeftovers,
  runtimeClient,
  waitFor,
} from "./support/runtime-harness.js";

/** The bound on convergence after a runtime restart that this test holds the runtime to. */
const RECOVERY_BOUND_MS = 15_000;

// Runtimes as their own processes (killed with SIGKILL, restarted), behind a real instances
// service whose ListInstances holds the desired state.
describe("a restarted runtime picks up what it missed and keeps stdio sessions alive", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let server: LocalMcpServer;
  let env: Record<string, string>;
  let grpcPort: number;
  const processes: ServiceProcess[] = [];
  let instances: ReturnType<typeof createServiceClient<typeof InstancesService>>;

  const startRuntime = () => {
    const child = spawnService("runtime", env);
    processes.push(child);
    return child;
  };
  const running = (instanceId: string, ms = 60_000) => {
    const client = runtimeClient(grpcPort);
    return waitFor(
      `${instanceId} RUNNING`,
      async () => {
        const { workload } = await client.getWorkload({ instanceId });
        return workload?.state === WorkloadState.RUNNING ? workload : undefined;
      },
      ms,
    );
  };
  // A fresh runtime process (tsx) takes a while to come up on a busy machine.
  const serving = () =>
    waitFor(
      "the runtime to answer",
      () =>
        runtimeClient(grpcPort)
          .listWorkloads({})
          .then(
            () => true,
            () => undefined,
          ),
      120_000,
    );

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    grpcPort = await findFreePort();
    mesh = await startMesh(engines, {
      services: ["registry", "instances"],
      env: { RUNTIME_ADDR: `127.0.0.1:${grpcPort}` },
    });
    server = await startLocalMcpServer({ name: "x-api-key", value: "k-2" });
    env = {
      ...mesh.env,
      ...serviceMeshEnv("runtime", engines),
      GRPC_PORT: String(grpcPort),
      // The same bridge address before and after a restart, as a deployment configures it.
      BRIDGE_PORT: String(await findFreePort()),
      BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
      RECONCILE_INTERVAL_MS: "30000",
      RESTART_BACKOFF_MS: "200",
    };
    instances = createServiceClient(InstancesService, mesh.env.INSTANCES_ADDR!, {
      identity: meshIdentity("gateway"),
      defaultTimeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    for (const child of processes) await child.stop();
    await mesh?.stop();
    await server?.close();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("starts instances created around a kill -9 without waiting for redelivery", async () => {
    const doomed = startRuntime();
    await serving();
    // Frozen, the runtime still receives the events (its pull is outstanding) but never acks
    // them: JetStream would redeliver them only after the 30 s ack deadline.
    doomed.child.kill("SIGSTOP");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { instance } = await instances.createInstance({
        instance: {
          name: `recover-${runId}-${i}`,
          jsonSpec: {
            type: "url",
            endpoint: server.url,
            headers: { "x-api-key": "k-2" },
            health_check: { interval: 2, timeout: 2 },
          },
        },
      });
      ids.push(instance!.id);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    doomed.child.kill("SIGKILL");
    await doomed.exited;

    startRuntime();
    // Measured from the moment the new process serves: its start-up time is the machine's.
    await serving();
    const started = Date.now();
    for (const id of ids) await running(id, RECOVERY_BOUND_MS + 10_000);
    const elapsed = Date.now() - started;
    console.info(`recovered 3 instances ${elapsed} ms after the new runtime began serving`);
    expect(elapsed).toBeLessThan(RECOVERY_BOUND_MS);
  });

  it("re-attaches to a running stdio container: same container, same MCP session", async () => {
    const catalog = await fetch(`${mesh.gateway.url}/v1/servers`, {
      method: "POST",
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: `ev-${runId}`,
        image: IMAGES.stdio,
        transport: "TRANSPORT_STDIO",
      }),
    });
    expect(catalog.status).toBe(200);
    const { instance } = await instances.createInstance({
      instance: {
        name: `stdio-${runId}`,
        serverId: `ev-${runId}`,
        jsonSpec: { health_check: { interval: 2, timeout: 2 } },
      },
    });
    const id = instance!.id;
    await running(id);
    const endpoint = await runtimeClient(grpcPort).resolveEndpoint({ instanceId: id });
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
      requestInit: { headers: endpoint.headers },
    });
    const mcp = new Client({ name: "berth-restart-test", version: "1.0.0" });
    await mcp.connect(transport, { timeout: 15_000 });
    try {
      const sessionId = transport.sessionId;
      expect(sessionId).toBeTruthy();
      const before = await mcp.callTool({ name: "echo", arguments: { message: "before" } });
      expect(before.content).toEqual([{ type: "text", text: "Echo: before" }]);
      const [container] = await containersOf(id);

      const previous = processes.at(-1)!;
      expect(await previous.stop()).toEqual({ code: 0, signal: null });
      startRuntime();
      await serving();
      await waitFor("the new runtime to serve the instance", () =>
        runtimeClient(grpcPort)
          .resolveEndpoint({ instanceId: id })
          .then(
            (e) => e,
            () => undefined,
          ),
      );

      const after = await mcp.callTool({ name: "echo", arguments: { message: "after" } });
      expect(after.content).toEqual([{ type: "text", text: "Echo: after" }]);
      expect(transport.sessionId).toBe(sessionId);
      const now = await containersOf(id);
      expect(now.map((c) => c.Id)).toEqual([container!.Id]);
      expect(now[0]!.State).toBe("running");
    } finally {
      await mcp.close();
    }
  });
});
