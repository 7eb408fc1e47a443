import {
  decodePageToken,
  encodePageToken,
  failedPrecondition,
  filterDigest,
  invalidArgument,
  notFound,
} from "@berth/platform";
import {
  type RuntimeService,
  type StreamLogsResponse,
  StreamLogsResponseSchema,
  WorkloadState,
} from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Drivers } from "../drivers/types.js";
import type { Supervisors } from "../supervisor/supervisors.js";
import type { WorkloadStore } from "../supervisor/workload-store.js";
import { toolsFromRow, workloadFromRow, workloadState } from "./workload-mapper.js";

// Workload listings have no filters: every token is bound to the one listing.
const LIST_DIGEST = filterDigest({});

const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;
const DEFAULT_TAIL = 100;
const MAX_TAIL = 10_000;

/** What the RuntimeService handlers read. */
export interface RuntimeHandlerDeps {
  store: WorkloadStore;
  supervisors: Supervisors;
  drivers: Drivers;
}

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

  return {
    async getWorkload(request) {
      return { workload: workloadFromRow(await liveRow(request.instanceId)) };
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
        workloads: page.map(workloadFromRow),
        nextPageToken:
          rows.length > size && last
            ? encodePageToken({ createdAt: last.createdAt, id: last.instanceId }, LIST_DIGEST)
            : "",
      };
    },

    async resolveEndpoint(request) {
      const row = await liveRow(request.instanceId);
      const active = deps.supervisors.get(row.instanceId)?.endpoint();
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
