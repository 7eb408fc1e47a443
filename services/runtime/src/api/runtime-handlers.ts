import {
  decodePageToken,
  encodePageToken,
  failedPrecondition,
  filterDigest,
  invalidArgument,
  notFound,
  unavailableRetryAfter,
} from "@berth/platform";
import {
  type RuntimeService,
  type StreamLogsResponse,
  StreamLogsResponseSchema,
  WorkloadState,
} from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { WorkloadRow } from "../db/workload-entity.js";
import type { Drivers } from "../drivers/types.js";
import type { RuntimeRow } from "../leases/lease-sql.js";
import type { Supervisors } from "../supervisor/supervisors.js";
import type { WorkloadStore } from "../supervisor/workload-store.js";
import { toolsFromRow, workloadFromRow, workloadState } from "./workload-mapper.js";

// Workload listings have no filters: every token is bound to the one listing.
const LIST_DIGEST = filterDigest({});

const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;
const DEFAULT_TAIL = 100;
const MAX_TAIL = 10_000;

/** The header of a request one runtime hands on to the owner (never handed on again). */
const FORWARDED_HEADER = "x-berth-forwarded-by";

/** What the handlers need of the runtime's lease (src/leases). */
export interface HandlerLease {
  owns(instanceId: string): boolean;
  runtimes(): ReadonlyMap<string, RuntimeRow>;
  readonly name: string;
}

/** What the RuntimeService handlers read. */
export interface RuntimeHandlerDeps {
  /** Ownership: requests about an instance another runtime owns are handed on to it. */
  lease?: HandlerLease;
  /** A client of the runtime at this address (a peer). */
  peer?: (address: string) => Client<typeof RuntimeService>;
  store: WorkloadStore;
  supervisors: Supervisors;
  drivers: Drivers;
  /** How long a wake waits when the instance has no idle policy (a starting instance). */
  defaultWakeTimeoutMs: number;
  /** Told when a wake request passed its deadline (a metric). */
  onWakeTimeout?: () => void;
}

/** Most instances one ReportActivity may name. */
const MAX_ACTIVITY = 10_000;

/** The RuntimeService implementation. */
export function createRuntimeHandlers(
  deps: RuntimeHandlerDeps,
): Partial<ServiceImpl<typeof RuntimeService>> {
  async function liveRow(instanceId: string) {
    if (!instanceId) throw invalidArgument([{ field: "instance_id", description: "is required" }]);
    const row = await deps.store.get(instanceId);
    if (!row || row.state === "REMOVED") throw notFound("workload", instanceId);
    return row;
  }

  /** The name of the live runtime that owns a row; empty while nobody does. */
  const ownerOf = (row: WorkloadRow) => {
    const owner = row.owner ? deps.lease?.runtimes().get(row.owner) : undefined;
    return owner?.alive ? owner.name : "";
  };

  /**
   * The owner's client when another runtime owns the instance: the request is handed on to it
   * (once: a handed-on request that finds no owner either is answered 503, to be retried).
   * Undefined when this runtime answers itself.
   */
  function handOn(row: WorkloadRow, context: HandlerContext) {
    const { lease, peer } = deps;
    if (!lease || !peer || lease.owns(row.instanceId)) return undefined;
    const owner = row.owner ? lease.runtimes().get(row.owner) : undefined;
    if (context.requestHeader.get(FORWARDED_HEADER) || !owner?.alive || !owner.address) {
      throw unavailableRetryAfter(
        `instance ${row.name || row.instanceId} is changing runtime (its owner is away); retry shortly`,
        1,
      );
    }
    return {
      client: peer(owner.address),
      options: { headers: { [FORWARDED_HEADER]: lease.name }, signal: context.signal },
    };
  }

  return {
    async getWorkload(request) {
      const row = await liveRow(request.instanceId);
      return {
        workload: workloadFromRow(row, deps.supervisors.get(row.instanceId)?.idle(), ownerOf(row)),
      };
    },

    async listWorkloads(request) {
      if (request.pageSize < 0) {
        throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
      }
      const after = request.pageToken ? decodePageToken(request.pageToken, LIST_DIGEST) : undefined;
      const size = Math.min(request.pageSize || DEFAULT_PAGE, MAX_PAGE);
      const rows = await deps.store.page(size + 1, after);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return {
        workloads: page.map((row) =>
          workloadFromRow(row, deps.supervisors.get(row.instanceId)?.idle(), ownerOf(row)),
        ),
        nextPageToken:
          rows.length > size && last
            ? encodePageToken({ createdAt: last.createdAt, id: last.instanceId }, LIST_DIGEST)
            : "",
      };
    },

    async resolveEndpoint(request, context) {
      const row = await liveRow(request.instanceId);
      const owner = handOn(row, context);
      if (owner) return owner.client.resolveEndpoint(request, owner.options);
      const supervisor = deps.supervisors.get(row.instanceId);
      // The gateway resolves for a request on its way: traffic (the idle clock moves first).
      supervisor?.touch(Date.now());
      const active = supervisor?.endpoint();
      // Idle (or being woken): no endpoint now, but WakeInstance answers one.
      if (
        !active &&
        row.desired === "running" &&
        (row.state === "IDLE" || supervisor?.wakeable())
      ) {
        return {
          url: "",
          headers: {},
          generation: BigInt(row.generation),
          state: workloadState(row.state),
          driver: row.driver,
          wakeable: true,
        };
      }
      if (!active || active.generation !== row.generation) {
        throw failedPrecondition(
          `instance ${row.instanceId} has no endpoint now (workload ${row.state.toLowerCase()}${row.message ? `: ${row.message}` : ""})`,
        );
      }
      return {
        url: active.url,
        headers: active.headers,
        generation: BigInt(active.generation),
        state: workloadState(row.state) || WorkloadState.STARTING,
        driver: row.driver,
      };
    },

    async wakeInstance(request, context) {
      const row = await liveRow(request.instanceId);
      const owner = handOn(row, context);
      if (owner) return owner.client.wakeInstance(request, owner.options);
      if (row.desired !== "running") {
        throw failedPrecondition(
          `instance ${row.instanceId} is not meant to run (desired state ${row.desired})`,
        );
      }
      // A supervisor exists for every live row once the runtime reconciled; kick makes sure.
      deps.supervisors.kick(row.instanceId);
      const supervisor = deps.supervisors.get(row.instanceId);
      if (!supervisor) throw failedPrecondition(`instance ${row.instanceId} is not supervised`);
      // A request is waiting: that is traffic, so the woken instance is not put to sleep under it.
      supervisor.touch(Date.now());
      const waitMs = supervisor.idle()?.policy.wakeTimeoutMs ?? deps.defaultWakeTimeoutMs;
      const deadline = AbortSignal.timeout(waitMs);
      let active: Awaited<ReturnType<typeof supervisor.wake>>;
      try {
        active = await supervisor.wake(AbortSignal.any([context.signal, deadline]));
      } catch (error) {
        if (!deadline.aborted || context.signal.aborted) throw error;
        deps.onWakeTimeout?.();
        throw unavailableRetryAfter(
          `instance ${row.name || row.instanceId} did not answer within ${Math.round(waitMs / 1000)}s of being woken; it is still starting`,
          Math.min(30, Math.max(1, waitMs / 2000)),
        );
      }
      return {
        url: active.url,
        headers: active.headers,
        generation: BigInt(active.generation),
        driver: row.driver,
      };
    },

    async reportActivity(request, context) {
      if (request.activity.length > MAX_ACTIVITY) {
        throw invalidArgument([
          { field: "activity", description: `must name at most ${MAX_ACTIVITY} instances` },
        ]);
      }
      const now = Date.now();
      // Activity of instances other runtimes own goes on to them, one call per owner.
      const elsewhere = new Map<string, typeof request.activity>();
      for (const item of request.activity) {
        const supervisor = deps.supervisors.get(item.instanceId);
        if (!supervisor) {
          if (deps.lease && !context.requestHeader.get(FORWARDED_HEADER)) {
            const row = await deps.store.get(item.instanceId).catch(() => null);
            const owner = row?.owner ? deps.lease.runtimes().get(row.owner) : undefined;
            if (owner?.alive && owner.address && !deps.lease.owns(item.instanceId)) {
              elsewhere.set(owner.address, [...(elsewhere.get(owner.address) ?? []), item]);
            }
          }
          continue; // not an instance of this runtime (or gone): nothing to time here
        }
        const requested = item.lastRequestTime ? timestampDate(item.lastRequestTime).getTime() : 0;
        // An open stream is traffic now; a request is traffic when it came (never in the future).
        supervisor.touch(item.openStreams > 0 ? now : Math.min(requested, now));
      }
      if (deps.peer) {
        const headers = { [FORWARDED_HEADER]: deps.lease?.name ?? "" };
        await Promise.all(
          [...elsewhere].map(([address, activity]) =>
            // Best effort: the idle clock is advisory, and the next report carries it again.
            deps.peer!(address)
              .reportActivity({ activity }, { headers, signal: context.signal })
              .catch(() => undefined),
          ),
        );
      }
      return {};
    },

    async listInstanceTools(request) {
      const row = await liveRow(request.instanceId);
      return {
        tools: toolsFromRow(row),
        ...(row.toolsObservedAt ? { observedTime: timestampFromDate(row.toolsObservedAt) } : {}),
      };
    },

    async *streamLogs(request, context): AsyncGenerator<StreamLogsResponse> {
      const row = await liveRow(request.instanceId);
      if (row.driver !== "docker") {
        throw failedPrecondition(
          `instance ${row.instanceId} is a ${row.driver || "unknown"} workload: it has no container logs`,
        );
      }
      if (request.tailLines < 0)
        throw invalidArgument([{ field: "tail_lines", description: "must not be negative" }]);
      const lines = deps.drivers.docker.logs(row.instanceId, {
        follow: request.follow,
        tailLines: Math.min(request.tailLines || DEFAULT_TAIL, MAX_TAIL),
        signal: context.signal,
      });
      for await (const line of lines) {
        yield create(StreamLogsResponseSchema, {
          line: line.line,
          stream: line.stream,
          ...(line.time ? { time: timestampFromDate(line.time) } : {}),
        });
      }
    },
  };
}
