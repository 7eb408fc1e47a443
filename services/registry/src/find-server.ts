import { invalidArgument, notFound } from "@berth/platform";
import { UUID_PATTERN } from "@berth/spec";
import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import { ServerEntity, type ServerRow } from "./db/server-entity.js";

const UUID = UUID_PATTERN;

/**
 * The entry with this id or name (names never look like UUIDs); NOT_FOUND when there is none,
 * INVALID_ARGUMENT naming `field` when the key is empty. `lock`: row-locked for a transaction.
 */
export async function findServerRow(
  em: EntityManager,
  key: string,
  field: string,
  lock = false,
): Promise<ServerRow> {
  if (!key) throw invalidArgument([{ field, description: "is required (an id or a name)" }]);
  const where = UUID.test(key) ? { id: key } : { name: key };
  const options = lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {};
  const row = await em.findOne(ServerEntity, where, options);
  if (!row) throw notFound("server", key);
  return row;
}
