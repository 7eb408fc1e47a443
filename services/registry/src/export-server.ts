import type { MikroORM } from "@mikro-orm/postgresql";
import { findServerRow } from "./find-server.js";
import { serverJsonFromServer } from "./server-json/export.js";
import type { JsonObject } from "./server-json/json-reader.js";
import { serverFromRow } from "./server-mapper.js";

/** The server.json of an entry (by id or name). */
export async function exportServerJson(orm: MikroORM, key: string): Promise<JsonObject> {
  const row = await findServerRow(orm.em.fork(), key, "id");
  return serverJsonFromServer(serverFromRow(row), row.serverJson ?? null);
}
