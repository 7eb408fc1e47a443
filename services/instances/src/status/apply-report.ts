import type { Logger } from "@berth/platform";
import type { McpServerInstanceStatusChanged } from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { InstanceEntity, type InstanceRow } from "../db/instance-entity.js";
import { instanceFromRow, statusName, storedIdle } from "../instance-mapper.js";
import { UUID } from "../validation/instance-fields.js";
import type { InstanceChange } from "../watch-hub.js";

/**
 * Whether a report is older than what the row already shows: an older generation than the
 * instance's, or not newer (generation, sequence) than the last report applied.
 */
export function isStale(
  row: Pick<InstanceRow, "generation" | "statusGeneration" | "statusSequence">,
  report: { generation: bigint; sequence: bigint },
): boolean {
  const generation = Number(report.generation);
  const sequence = Number(report.sequence);
  if (generation < row.generation || generation < row.statusGeneration) return true;
  return generation === row.statusGeneration && sequence <= row.statusSequence;
}

/**
 * Applies one status report of the runtime to its instance, inside the caller's transaction
 * (row-locked, so concurrent reports apply one after the other). Returns the change for
 * watchers, or undefined when the report changes nothing.
 */
export async function applyStatusReport(
  em: EntityManager,
  report: McpServerInstanceStatusChanged,
  logger: Logger,
): Promise<InstanceChange | undefined> {
  const fields = {
    instance_id: report.instanceId,
    generation: Number(report.generation),
    sequence: Number(report.sequence),
  };
  if (!UUID.test(report.instanceId)) {
    logger.warn(fields, "status report without an instance id; ignored");
    return undefined;
  }
  const row = await em.findOne(
    InstanceEntity,
    { id: report.instanceId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  if (!row) {
    logger.debug(fields, "status report for an instance that is gone; ignored");
    return undefined;
  }
  if (isStale(row, report)) {
    logger.debug(fields, "stale status report; ignored");
    return undefined;
  }
  row.statusGeneration = fields.generation;
  row.statusSequence = fields.sequence;
  if (row.status === "DELETING") {
    if (!report.removed) return undefined; // only the removal matters now
    const instance = instanceFromRow({ ...row, statusMessage: "workload removed" });
    em.remove(row);
    logger.info(fields, "workload removed; instance deleted");
    return { instance, gone: true };
  }
  if (report.status === InstanceStatus.UNSPECIFIED || !(report.status in InstanceStatus)) {
    logger.warn(fields, "status report without a known status; ignored");
    return undefined;
  }
  const status = statusName(report.status);
  const message = report.message.slice(0, 2000);
  // A report of the idle clock alone (same status and message) leaves status_time as it was.
  if (status !== row.status || message !== row.statusMessage || !row.statusTime)
    row.statusTime = report.observedAt ? timestampDate(report.observedAt) : new Date();
  row.status = status;
  row.statusMessage = message;
  row.idle = report.idle ? storedIdle(report.idle) : null;
  return { instance: instanceFromRow(row), gone: false };
}
