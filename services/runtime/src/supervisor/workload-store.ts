import { createEnvelope, type PageCursor, recordEvent } from "@berth/platform";
import { McpServerInstanceStatusChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LockMode } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import { WorkloadEntity, type WorkloadRow } from "../db/workload-entity.js";
import type { ProbedTool } from "../health/mcp-probe.js";

/** Observed states, as stored (WorkloadState names without the prefix). */
export type StateName =
  | "PENDING"
  | "STARTING"
  | "RUNNING"
  | "UNHEALTHY"
  | "STOPPING"
  | "STOPPED"
  | "FAILED"
  | "REMOVED";

/** One observation to report. */
export interface StatusReport {
  state: StateName;
  message: string;
  endpoint?: string;
  containerId?: string;
  restartCount?: number;
}

/** Reads and writes workload rows; status changes go out through the outbox in one transaction. */
export interface WorkloadStore {
  get(instanceId: string): Promise<WorkloadRow | null>;
  /** Rows by instance id after `after`, at most limit; tombstones left out. */
  page(limit: number, after?: PageCursor): Promise<WorkloadRow[]>;
  /** Every row that is not a tombstone. */
  live(): Promise<WorkloadRow[]>;
  /**
   * Records an observation for this generation; publishes McpServerInstanceStatusChanged when
   * state, message or endpoint changed. False when the row moved to another generation.
   */
  report(instanceId: string, generation: number, report: StatusReport): Promise<boolean>;
  saveTools(instanceId: string, generation: number, tools: ProbedTool[]): Promise<void>;
}

const STATUS: Record<StateName, InstanceStatus> = {
  PENDING: InstanceStatus.PENDING,
  STARTING: InstanceStatus.STARTING,
  RUNNING: InstanceStatus.RUNNING,
  UNHEALTHY: InstanceStatus.UNHEALTHY,
  STOPPING: InstanceStatus.STOPPING,
  STOPPED: InstanceStatus.STOPPED,
  FAILED: InstanceStatus.FAILED,
  REMOVED: InstanceStatus.STOPPED, // with removed = true
};

/** Creates the store; kickOutbox wakes the relay after a commit that recorded an event. */
export function createWorkloadStore(orm: MikroORM, kickOutbox: () => void): WorkloadStore {
  return {
    get: (instanceId) => orm.em.fork().findOne(WorkloadEntity, { instanceId }),
    page: (limit, after) =>
      orm.em.fork().find(
        WorkloadEntity,
        {
          state: { $ne: "REMOVED" },
          // Keyset (created_at, instance_id), the platform's page cursor.
          ...(after
            ? {
                $or: [
                  { createdAt: { $gt: after.createdAt } },
                  { createdAt: after.createdAt, instanceId: { $gt: after.id } },
                ],
              }
            : {}),
        },
        { orderBy: { createdAt: "asc", instanceId: "asc" }, limit },
      ),
    live: () => orm.em.fork().find(WorkloadEntity, { state: { $ne: "REMOVED" } }),
    async report(instanceId, generation, report) {
      const published = await orm.em.fork().transactional(async (em) => {
        const row = await em.findOne(
          WorkloadEntity,
          { instanceId },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!row || row.generation !== generation) return undefined;
        const now = new Date();
        const endpoint = report.endpoint ?? row.endpoint;
        const changed =
          row.state !== report.state || row.message !== report.message || row.endpoint !== endpoint;
        if (report.containerId !== undefined) row.containerId = report.containerId;
        if (report.restartCount !== undefined) row.restartCount = report.restartCount;
        if (report.state === "FAILED") row.failedRevision = row.revision;
        row.endpoint = endpoint;
        row.updatedAt = now;
        if (!changed) return false;
        row.state = report.state;
        row.message = report.message;
        row.observedAt = now;
        row.sequence += 1;
        const payload = create(McpServerInstanceStatusChangedSchema, {
          instanceId,
          generation: BigInt(generation),
          status: STATUS[report.state],
          message: report.message,
          endpoint,
          observedAt: timestampFromDate(now),
          sequence: BigInt(row.sequence),
          removed: report.state === "REMOVED",
        });
        recordEvent(
          em,
          createEnvelope({
            schema: McpServerInstanceStatusChangedSchema,
            payload,
            aggregateType: "McpServerInstance",
            aggregateId: instanceId,
            aggregateVersion: row.sequence,
            source: "runtime",
          }),
        );
        return true;
      });
      if (published) kickOutbox();
      return published !== undefined;
    },
    async saveTools(instanceId, generation, tools) {
      const em = orm.em.fork();
      await em.nativeUpdate(
        WorkloadEntity,
        { instanceId, generation },
        { tools, toolsObservedAt: new Date() },
      );
    },
  };
}
