import { failedPrecondition, failpoint, type Logger, notFound } from "@berth/platform";
import type { McpServerInstance } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { LockMode } from "@mikro-orm/core";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { InstanceEntity, type InstanceRow } from "../db/instance-entity.js";
import { instanceFromRow } from "../instance-mapper.js";
import type { SecretStore } from "../secrets/secret-store.js";
import type { ServerLookup } from "../server-lookup.js";
import { UUID } from "../validation/instance-fields.js";
import type { SpecPolicy } from "../validation/spec-builder.js";
import type { WatchHub } from "../watch-hub.js";

/** What the instances handlers need. */
export interface InstancesDeps {
  orm: MikroORM;
  /** Wakes the outbox relay after a commit that recorded events. */
  kickOutbox(): void;
  logger: Logger;
  lookup: ServerLookup;
  secrets: SecretStore;
  hub: WatchHub;
  policy: SpecPolicy;
  /**
   * Set when `orm` joins a transaction already open (a request id's record, AIP-155): writes
   * must run through it, so they commit or roll back with that record.
   */
  joined?: boolean;
}

/** The where-clause of an id-or-name key. */
export function keyWhere(idOrName: string) {
  return UUID.test(idOrName) ? { id: idOrName } : { name: idOrName };
}

/** Finds and row-locks an instance by id or name inside a transaction; NOT_FOUND when absent. */
export async function lockInstance(em: EntityManager, idOrName: string): Promise<InstanceRow> {
  const row = idOrName
    ? await em.findOne(InstanceEntity, keyWhere(idOrName), { lockMode: LockMode.PESSIMISTIC_WRITE })
    : null;
  if (!row) throw notFound("instance", idOrName);
  return row;
}

/** Refuses changes to an instance that is being deleted. */
export function assertNotDeleting(row: InstanceRow): void {
  if (row.status === "DELETING")
    throw failedPrecondition(`instance "${row.name}" is being deleted`);
}

/**
 * Runs a write in one transaction (state and outbox together), then wakes the relay (watchers
 * hear of it from the database's change notifications). The failpoint lets crash tests kill the process between commit and publish.
 */
export async function commitWrite(
  deps: InstancesDeps,
  work: (em: EntityManager) => Promise<{ row: InstanceRow; changed: boolean }>,
): Promise<McpServerInstance> {
  const { row, changed } = await deps.orm.em.fork().transactional(work);
  const instance = instanceFromRow(row);
  if (!changed) return instance;
  failpoint("outbox.after-commit");
  deps.kickOutbox();
  return instance;
}
