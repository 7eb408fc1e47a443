import { createEnvelope, createPreparedReads, type PageCursor, recordEvent } from "@berth/platform";
import {
  McpServerInstanceIdleChangedSchema,
  McpServerInstanceStatusChangedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { IdleStateSchema, InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LockMode } from "@mikro-orm/core";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { WorkloadEntity, type WorkloadRow } from "../db/workload-entity.js";
import type { ProbedTool } from "../health/mcp-probe.js";
import { leaseHolds } from "../leases/lease-sql.js";

/** Observed states, as stored (WorkloadState names without the prefix). */
export type StateName =
  | "PENDING"
  | "STARTING"
  | "RUNNING"
  | "UNHEALTHY"
  | "STOPPING"
  | "STOPPED"
  | "FAILED"
  | "REMOVED"
  /** Stopped by the idle policy; desired state still running. */
  | "IDLE";

/** The idle policy's view of an instance, carried on its status reports. */
export interface IdleReport {
  timeoutSeconds: number;
  lastRequestAt?: Date;
  /** When it goes IDLE unless traffic comes; absent when not running. */
  idleAt?: Date;
}

/** One observation to report. */
export interface StatusReport {
  state: StateName;
  message: string;
  endpoint?: string;
  containerId?: string;
  restartCount?: number;
  /** The idle policy (absent: the instance is never idled). */
  idle?: IdleReport;
  /** The report is a sleep or a wake-up: McpServerInstanceIdleChanged goes out with it. */
  idleChange?: { idle: boolean; reason: string; wakeMillis?: number };
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
   * state, message or endpoint changed. False when the row moved to another generation or to
   * another owner (the write fence).
   */
  report(instanceId: string, generation: number, report: StatusReport): Promise<boolean>;
  saveTools(instanceId: string, generation: number, tools: ProbedTool[]): Promise<void>;
  /**
   * Records the idle policy's clock (last MCP traffic, next deadline) and publishes it as a
   * status report of the unchanged state, so the instance shows it. False when the row moved on.
   */
  recordActivity(instanceId: string, generation: number, idle: IdleReport): Promise<boolean>;
}

const idleMessage = (idle: IdleReport | undefined) =>
  idle
    ? create(IdleStateSchema, {
        timeoutSeconds: idle.timeoutSeconds,
        ...(idle.lastRequestAt ? { lastRequestTime: timestampFromDate(idle.lastRequestAt) } : {}),
        ...(idle.idleAt ? { idleTime: timestampFromDate(idle.idleAt) } : {}),
      })
    : undefined;

const STATUS: Record<StateName, InstanceStatus> = {
  PENDING: InstanceStatus.PENDING,
  STARTING: InstanceStatus.STARTING,
  RUNNING: InstanceStatus.RUNNING,
  UNHEALTHY: InstanceStatus.UNHEALTHY,
  STOPPING: InstanceStatus.STOPPING,
  STOPPED: InstanceStatus.STOPPED,
  FAILED: InstanceStatus.FAILED,
  REMOVED: InstanceStatus.STOPPED, // with removed = true
  IDLE: InstanceStatus.IDLE,
};

/**
 * The writer's fence: observations are recorded only by the runtime that owns the workload, while
 * its lease holds at the database's clock, checked in the same transaction that holds the row's
 * lock (a claim takes that lock too, so a write and a change of owner never interleave).
 */
export interface WriteFence {
  /** The writing runtime's current incarnation. */
  runtimeId(): string;
}

/** Creates the store; kickOutbox wakes the relay after a commit that recorded an event. */
export function createWorkloadStore(
  orm: MikroORM,
  kickOutbox: () => void,
  fence?: WriteFence,
): WorkloadStore {
  /** Whether the fence lets this runtime write the locked row. */
  const fenced = async (em: EntityManager, row: WorkloadRow) =>
    fence !== undefined &&
    (row.owner !== fence.runtimeId() || !(await leaseHolds(em, fence.runtimeId())));
  /** Records McpServerInstanceStatusChanged of the row as it is now (sequence already bumped). */
  const recordStatus = (em: EntityManager, row: WorkloadRow, now: Date, idle?: IdleReport) => {
    const payload = create(McpServerInstanceStatusChangedSchema, {
      instanceId: row.instanceId,
      generation: BigInt(row.generation),
      status: STATUS[row.state as StateName],
      message: row.message,
      endpoint: row.endpoint,
      observedAt: timestampFromDate(now),
      sequence: BigInt(row.sequence),
      removed: row.state === "REMOVED",
      ...(idle ? { idle: idleMessage(idle) } : {}),
    });
    recordEvent(
      em,
      createEnvelope({
        schema: McpServerInstanceStatusChangedSchema,
        payload,
        aggregateType: "McpServerInstance",
        aggregateId: row.instanceId,
        aggregateVersion: row.sequence,
        source: "runtime",
      }),
    );
  };
  // Every supervisor reads its row on each refresh: a prepared statement, no ORM entity.
  const reads = createPreparedReads<WorkloadRow>(orm, WorkloadEntity as never);
  const byId = `select ${reads.columns} from "runtime"."workloads" where instance_id = $1`;
  return {
    get: async (instanceId) =>
      (await reads.query("runtime_workload_by_id", byId, [instanceId]))[0] ?? null,
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
        if (await fenced(em, row)) return undefined;
        const now = new Date();
        const endpoint = report.endpoint ?? row.endpoint;
        const changed =
          row.state !== report.state || row.message !== report.message || row.endpoint !== endpoint;
        if (report.containerId !== undefined) row.containerId = report.containerId;
        if (report.restartCount !== undefined) row.restartCount = report.restartCount;
        if (report.state === "FAILED") row.failedRevision = row.revision;
        row.endpoint = endpoint;
        // A probe that finds what the row says writes nothing (one per instance per interval).
        if (!changed) return false;
        row.updatedAt = now;
        row.state = report.state;
        row.message = report.message;
        row.observedAt = now;
        row.sequence += 1;
        recordStatus(em, row, now, report.idle);
        const change = report.idleChange;
        if (change) {
          recordEvent(
            em,
            createEnvelope({
              schema: McpServerInstanceIdleChangedSchema,
              payload: create(McpServerInstanceIdleChangedSchema, {
                instanceId,
                generation: BigInt(generation),
                idle: change.idle,
                reason: change.reason,
                wakeMillis: BigInt(Math.round(change.wakeMillis ?? 0)),
                name: row.name,
                ...(row.lastRequestAt
                  ? { lastRequestTime: timestampFromDate(row.lastRequestAt) }
                  : {}),
              }),
              aggregateType: "McpServerInstance",
              aggregateId: instanceId,
              aggregateVersion: row.sequence,
              source: "runtime",
            }),
          );
        }
        return true;
      });
      if (published) kickOutbox();
      return published !== undefined;
    },
    async recordActivity(instanceId, generation, idle) {
      const recorded = await orm.em.fork().transactional(async (em) => {
        const row = await em.findOne(
          WorkloadEntity,
          { instanceId },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!row || row.generation !== generation || row.state === "REMOVED") return false;
        if (await fenced(em, row)) return false;
        const now = new Date();
        if (idle.lastRequestAt) row.lastRequestAt = idle.lastRequestAt;
        row.updatedAt = now;
        row.sequence += 1;
        recordStatus(em, row, now, idle);
        return true;
      });
      if (recorded) kickOutbox();
      return recorded;
    },
    async saveTools(instanceId, generation, tools) {
      const em = orm.em.fork();
      await em.nativeUpdate(
        WorkloadEntity,
        { instanceId, generation, ...(fence ? { owner: fence.runtimeId() } : {}) },
        { tools, toolsObservedAt: new Date() },
      );
    },
  };
}
