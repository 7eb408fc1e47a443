import type { McpServerInstance } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { InstanceRow } from "../db/instance-entity.js";
import { recordInstanceEvent } from "../instance-events.js";
import { assertNotDeleting, commitWrite, type InstancesDeps, lockInstance } from "./deps.js";

type Change = (row: InstanceRow, em: EntityManager) => boolean;

async function change(deps: InstancesDeps, id: string, apply: Change): Promise<McpServerInstance> {
  return commitWrite(deps, async (em) => {
    const row = await lockInstance(em, id);
    const changed = apply(row, em);
    return { row, changed };
  });
}

function bump(row: InstanceRow): void {
  row.revision += 1;
  row.updatedAt = new Date();
}

/** StartInstance: desired state RUNNING and McpServerInstanceStarted; a no-op when already so. */
export function startInstance(deps: InstancesDeps, id: string) {
  return change(deps, id, (row, em) => {
    assertNotDeleting(row);
    if (row.desiredState === "RUNNING") return false;
    row.desiredState = "RUNNING";
    bump(row);
    recordInstanceEvent(em, row, { kind: "started" });
    return true;
  });
}

/** StopInstance: desired state STOPPED and McpServerInstanceStopped; a no-op when already so. */
export function stopInstance(deps: InstancesDeps, id: string) {
  return change(deps, id, (row, em) => {
    assertNotDeleting(row);
    if (row.desiredState === "STOPPED") return false;
    row.desiredState = "STOPPED";
    bump(row);
    recordInstanceEvent(em, row, { kind: "stopped" });
    return true;
  });
}

/** RestartInstance: a new generation, desired state RUNNING, McpServerInstanceStarted. */
export function restartInstance(deps: InstancesDeps, id: string) {
  return change(deps, id, (row, em) => {
    assertNotDeleting(row);
    row.desiredState = "RUNNING";
    row.generation += 1;
    bump(row);
    recordInstanceEvent(em, row, { kind: "started" });
    return true;
  });
}

/**
 * DeleteInstance, phase one: DELETING and McpServerInstanceDeleted. The row goes away when the
 * runtime reports the workload removed. Deleting again while DELETING changes nothing.
 */
export function deleteInstance(deps: InstancesDeps, id: string) {
  return change(deps, id, (row, em) => {
    if (row.status === "DELETING") return false;
    row.status = "DELETING";
    row.statusMessage = "deletion requested";
    row.statusTime = new Date();
    bump(row);
    recordInstanceEvent(em, row, { kind: "deleted" });
    return true;
  });
}
