import type { McpServerInstanceStatusChanged } from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstanceStatus, InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { tapEvents } from "../events/event-tap.js";
import type { BenchMesh } from "../mesh/bench-mesh.js";
import type { BerthApi } from "../mesh/berth-api.js";
import type { BenchContext } from "../support/context.js";
import { wallMs } from "../support/stats.js";
import { dockerFloorRun, type FloorRun } from "./docker-floor.js";

/** One start through Berth, with where its time went (ms from the POST). */
export interface BerthStart {
  /** POST /v1/instances sent → WatchInstance shows RUNNING. */
  totalMs: number;
  /** → McpServerInstanceCreated stamped (the API call, validation, the transaction). */
  createdMs: number;
  /** → the runtime reports STARTING. */
  startingMs: number;
  /** → the runtime reports RUNNING (container up, bridge attached, health probe answered). */
  runningMs: number;
}

/** Section 3 of the results. */
export interface TimeToReadyResult {
  image: string;
  berth: BerthStart[];
  floor: FloorRun[];
}

const IMAGE = "berth/mcp-everything:stdio";
const STDIO_SERVER = "io.github.modelcontextprotocol/everything";
const READY_TIMEOUT_MS = 90_000;

/**
 * POST /v1/instances of an stdio container until RUNNING (seen through WatchInstance at the
 * gateway), alternating with the floor: docker run -i of the same image and its first answers.
 */
export async function timeToReadyLeg(
  ctx: BenchContext,
  mesh: BenchMesh,
  api: BerthApi,
  natsUrl: string,
): Promise<TimeToReadyResult> {
  const result: TimeToReadyResult = { image: IMAGE, berth: [], floor: [] };
  const marks = new Map<string, { created?: number; starting?: number; running?: number }>();
  const tap = await tapEvents(
    natsUrl,
    ["berth.instances.instance.created", "berth.runtime.instance.status_changed"],
    (event) => {
      const id = event.envelope.aggregateId;
      const mark = marks.get(id) ?? {};
      marks.set(id, mark);
      if (event.subject.endsWith(".created")) mark.created ??= event.occurredAt;
      const status = (event.payload as McpServerInstanceStatusChanged).status;
      if (status === InstanceStatus.STARTING) mark.starting ??= event.occurredAt;
      if (status === InstanceStatus.RUNNING) mark.running ??= event.occurredAt;
    },
  );
  const auth: Interceptor = (next) => async (request) => {
    request.header.set("authorization", `Bearer ${mesh.apiKey}`);
    return next(request);
  };
  // The gateway's public port: plaintext gRPC with an API key (not the mesh's mutual TLS).
  const instances = createClient(
    InstancesService,
    createGrpcTransport({
      baseUrl: mesh.gatewayUrl,
      defaultTimeoutMs: 5_000,
      interceptors: [auth],
    }),
  );
  try {
    await dockerFloorRun(IMAGE, ctx.runId, `berth-bench-floor-warmup-${ctx.runId}`); // warm caches
    for (let repeat = 1; repeat <= ctx.settings.ready.repeats; repeat++) {
      ctx.say(`  repeat ${repeat}/${ctx.settings.ready.repeats}: docker run floor, then Berth`);
      result.floor.push(
        await dockerFloorRun(IMAGE, ctx.runId, `berth-bench-floor-${repeat}-${ctx.runId}`),
      );
      const began = wallMs();
      const id = await api.createInstance({ name: `ready-${repeat}`, serverId: STDIO_SERVER });
      const controller = new AbortController();
      let ready = Number.NaN;
      for await (const change of instances.watchInstance(
        { id },
        { signal: controller.signal, timeoutMs: READY_TIMEOUT_MS },
      )) {
        if (change.instance?.status === InstanceStatus.RUNNING) {
          ready = wallMs();
          break;
        }
        if (change.instance?.status === InstanceStatus.FAILED) {
          throw new Error(`instance ${id} failed: ${change.instance.statusMessage}`);
        }
      }
      controller.abort();
      const mark = marks.get(id) ?? {};
      result.berth.push({
        totalMs: ready - began,
        createdMs: (mark.created ?? Number.NaN) - began,
        startingMs: (mark.starting ?? Number.NaN) - began,
        runningMs: (mark.running ?? Number.NaN) - began,
      });
      await api.deleteInstance(id, 60_000);
    }
    return result;
  } finally {
    await tap.close();
  }
}
