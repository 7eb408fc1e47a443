import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { ServerEntity } from "./db/server-entity.js";
import { importServerJson } from "./import-server.js";

/**
 * Imports every server.json of `dir` when the catalog is empty, through the import path (so
 * McpServerCreated events fire). Importing is idempotent, so a start that dies half-way is safe.
 * Returns how many entries were created.
 */
export async function loadStarterCatalog(
  orm: MikroORM,
  dir: string,
  logger: Logger,
): Promise<number> {
  if ((await orm.em.fork().count(ServerEntity, {})) > 0) return 0;
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  let created = 0;
  for (const file of files) {
    const path = join(dir, file);
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(path, "utf8"));
    } catch (error) {
      throw new Error(`starter catalog ${path} is not valid JSON`, { cause: error });
    }
    const outcome = await importServerJson(orm, doc).catch((error: unknown) => {
      throw new Error(`starter catalog ${path}: ${(error as Error).message}`, { cause: error });
    });
    for (const warning of outcome.warnings) logger.info({ file }, `starter catalog: ${warning}`);
    if (outcome.changed) created++;
  }
  logger.info({ created, dir }, "starter catalog loaded");
  return created;
}
