import { invalidArgument, notFound, type PreparedReads } from "@berth/platform";
import { UUID_PATTERN } from "@berth/spec";
import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import { ServerEntity, type ServerRow } from "./db/server-entity.js";

const UUID = UUID_PATTERN;

/** Validates a key (an id or a name) and says which column it is looked up by. */
function keyColumn(key: string, field: string): "id" | "name" {
  if (!key) throw invalidArgument([{ field, description: "is required (an id or a name)" }]);
  return UUID.test(key) ? "id" : "name";
}

/**
 * The entry with this id or name for a read (GetServer): one prepared statement instead of the
 * ORM's find, the same answers as findServerRow (NOT_FOUND, INVALID_ARGUMENT naming `field`).
 */
export async function readServerRow(
  reads: PreparedReads<ServerRow>,
  key: string,
  field: string,
): Promise<ServerRow> {
  const column = keyColumn(key, field);
  const text = `select ${reads.columns} from servers where ${column} = $1`;
  const [row] = await reads.query(`registry.server_by_${column}`, text, [key]);
  if (!row) throw notFound("server", key);
  return row;
}

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
  const where = keyColumn(key, field) === "id" ? { id: key } : { name: key };
  const options = lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {};
  const row = await em.findOne(ServerEntity, where, options);
  if (!row) throw notFound("server", key);
  return row;
}
