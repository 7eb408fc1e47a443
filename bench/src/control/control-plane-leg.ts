import { join } from "node:path";
import { createServiceClient } from "@berth/platform";
import { DesiredState, InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { BenchMesh } from "../mesh/bench-mesh.js";
import type { BerthApi } from "../mesh/berth-api.js";
import type { BenchContext } from "../support/context.js";
import { type ProfileSummary, summarizeProfile } from "../support/cpu-profile.js";
import { type AutocannonRequest, runAutocannon } from "./autocannon.js";
import { closedLoop, type LoadRun } from "./closed-loop.js";

/** How a control-plane call was made. */
export type ControlMode = "rest-gateway" | "grpc-gateway" | "grpc-direct";

/** The runs of one call in one mode. */
export interface ControlRow {
  call: string;
  mode: ControlMode;
  runs: LoadRun[];
}

/** Section 2 of the results. */
export interface ControlPlaneResult {
  connections: number;
  seconds: number;
  rows: ControlRow[];
  /** CPU profiles taken during extra runs after the measured ones. */
  profiles: Array<{ process: string; during: string; summary: ProfileSummary }>;
}

export const MODE_LABELS: Record<ControlMode, string> = {
  "rest-gateway": "REST via the gateway (autocannon)",
  "grpc-gateway": "gRPC via the gateway (connect client)",
  "grpc-direct": "gRPC straight to the service (connect client)",
};

const SEED_INSTANCES = 60;
const UNUSED_ENDPOINT = "http://127.0.0.1:9/mcp";

/**
 * GET /v1/servers/{id}, GET /v1/instances (a page of 50) and POST /v1/instances (validation, the
 * row, the outbox) at a fixed concurrency: REST through the gateway with autocannon, and the same
 * calls over gRPC through the gateway and straight to the service with one closed-loop client.
 */
export async function controlPlaneLeg(
  ctx: BenchContext,
  mesh: BenchMesh,
  api: BerthApi,
): Promise<ControlPlaneResult> {
  const { connections, seconds, warmupSeconds, repeats } = ctx.settings.control;
  const server = await api.rest("GET", "/v1/servers/io.github.modelcontextprotocol/everything");
  const serverId = server.body.id as string;
  if (!serverId) throw new Error(`the starter catalog entry is missing: ${JSON.stringify(server)}`);
  // Created stopped: the runtime records them and starts nothing.
  const instance = (name: string) => ({
    name,
    desiredState: "DESIRED_STATE_STOPPED",
    jsonSpec: { type: "url", endpoint: UNUSED_ENDPOINT },
  });
  for (let i = 0; i < SEED_INSTANCES; i++) await api.createInstance(instance(`cp-seed-${i}`));

  let serial = 0;
  const uniqueName = () => `cp-${(serial++).toString(36)}`;
  const auth: Interceptor = (next) => async (request) => {
    request.header.set("authorization", `Bearer ${mesh.apiKey}`);
    return next(request);
  };
  const gatewayTransport = createGrpcTransport({
    baseUrl: mesh.gatewayUrl,
    defaultTimeoutMs: 5_000,
    interceptors: [auth],
  });
  const direct = { identity: mesh.authority.identity("gateway") };
  const clients = {
    "grpc-gateway": {
      // The gateway's public port: plaintext gRPC with an API key (not the mesh's mutual TLS).
      registry: createClient(RegistryService, gatewayTransport),
      instances: createClient(InstancesService, gatewayTransport),
    },
    "grpc-direct": {
      registry: createServiceClient(RegistryService, mesh.address("registry"), direct),
      instances: createServiceClient(InstancesService, mesh.address("instances"), direct),
    },
  };
  type Clients = (typeof clients)["grpc-direct"];
  const calls: Array<{
    call: string;
    rest: AutocannonRequest;
    grpc(c: Clients): Promise<unknown>;
  }> = [
    {
      call: "GET /v1/servers/{id}",
      rest: { method: "GET", path: `/v1/servers/${serverId}` },
      grpc: (c) => c.registry.getServer({ id: serverId }),
    },
    {
      call: "GET /v1/instances?page_size=50",
      rest: { method: "GET", path: "/v1/instances?page_size=50" },
      grpc: (c) => c.instances.listInstances({ pageSize: 50 }),
    },
    {
      call: "POST /v1/instances",
      rest: {
        method: "POST",
        path: "/v1/instances",
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ instance: instance(uniqueName()) }),
        }),
      },
      grpc: (c) =>
        c.instances.createInstance({
          instance: {
            name: uniqueName(),
            desiredState: DesiredState.STOPPED,
            jsonSpec: { type: "url", endpoint: UNUSED_ENDPOINT },
          },
        }),
    },
  ];

  const runOnce = async (mode: ControlMode, call: (typeof calls)[number], time: number) => {
    if (mode !== "rest-gateway") {
      const client = clients[mode];
      return closedLoop(connections, time, () => call.grpc(client));
    }
    const result = await runAutocannon({
      url: mesh.gatewayUrl,
      connections,
      duration: time,
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      requests: [call.rest],
    });
    const ok = result.requests.total - result.non2xx;
    return {
      count: ok,
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      requestsPerSecond: ok / result.duration,
      failures: result.non2xx + result.errors + result.timeouts,
    } satisfies LoadRun;
  };

  const modes: ControlMode[] = ["rest-gateway", "grpc-gateway", "grpc-direct"];
  const rows: ControlRow[] = calls.flatMap((call) =>
    modes.map((mode) => ({ call: call.call, mode, runs: [] as LoadRun[] })),
  );
  for (const call of calls) {
    for (const mode of modes) await runOnce(mode, call, warmupSeconds); // warm-up, not kept
  }
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const call of calls) {
      for (const mode of modes) {
        ctx.say(`  repeat ${repeat}/${repeats}: ${call.call}, ${mode}`);
        const row = rows.find((r) => r.call === call.call && r.mode === mode)!;
        row.runs.push(await runOnce(mode, call, seconds));
      }
    }
  }
  // Where the time goes: the gateway under REST load, the instances service under creates.
  const profiles: ControlPlaneResult["profiles"] = [];
  for (const [service, mode, call] of [
    ["gateway", "rest-gateway", calls[0]!],
    ["instances", "grpc-direct", calls[2]!],
  ] as const) {
    const target = mesh.services[service]!;
    const file = join(ctx.outDir, `${service}-control.cpuprofile`);
    ctx.say(`  profiling ${service} during ${call.call}, ${mode} (not measured)`);
    await target.request({ op: "profile-start" });
    try {
      await runOnce(mode, call, seconds);
    } finally {
      await target.request({ op: "profile-stop", file });
    }
    profiles.push({
      process: service,
      during: `${call.call}, ${MODE_LABELS[mode]}`,
      summary: await summarizeProfile(file),
    });
  }
  return { connections, seconds, rows, profiles };
}
