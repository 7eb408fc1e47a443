import { isDeepStrictEqual } from "node:util";
import { Code, ConnectError, failedPrecondition, invalidArgument } from "@berth/platform";
import type { McpServer } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { LockMode, type MikroORM } from "@mikro-orm/postgresql";
import { ServerEntity } from "./db/server-entity.js";
import { serverFromServerJson } from "./server-json/import.js";
import { isObject, type JsonObject } from "./server-json/json-reader.js";
import { compareVersions } from "./server-json/version.js";
import { rowFieldsFromServer, serverFromRow } from "./server-mapper.js";
import { insertServer, updateServerRow } from "./server-writes.js";

/** What an import did. */
export interface ImportOutcome {
  server: McpServer;
  warnings: string[];
  /** True when the document created or changed the entry (an event was recorded). */
  changed: boolean;
}

/**
 * Imports a server.json: a new name creates an entry; the same document again changes nothing;
 * a newer version updates the entry's mapped fields (tags, visibility and status stay Berth's);
 * the same version with other content is ALREADY_EXISTS, an older one FAILED_PRECONDITION.
 */
export async function importServerJson(orm: MikroORM, doc: unknown): Promise<ImportOutcome> {
  const { server, warnings } = serverFromServerJson(doc);
  const document = doc as JsonObject;
  const attempt = () =>
    orm.em.fork().transactional(async (em): Promise<ImportOutcome> => {
      const row = await em.findOne(
        ServerEntity,
        { name: server.name },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      const fields = rowFieldsFromServer(server);
      if (!row) {
        const created = await insertServer(em, fields, document).catch((error) => {
          throw error instanceof ConnectError && error.code === Code.AlreadyExists
            ? new NameRace(error)
            : error;
        });
        return { server: created, warnings, changed: true };
      }
      if (isDeepStrictEqual(row.serverJson, document)) {
        return { server: serverFromRow(row), warnings, changed: false };
      }
      const order = compareVersions(server.version, row.version);
      if (order === 0) {
        throw new ConnectError(
          `${server.name} ${server.version} is already in the catalog with other content; import a newer version`,
          Code.AlreadyExists,
        );
      }
      if (order < 0) {
        throw failedPrecondition(
          `the catalog has ${server.name} ${row.version}, newer than ${server.version}`,
        );
      }
      const kept = { tags: row.tags, isPublic: row.isPublic, status: row.status };
      await updateServerRow(em, row, { ...fields, ...kept }, document);
      return { server: serverFromRow(row), warnings, changed: true };
    });
  try {
    return await attempt();
  } catch (error) {
    // Two imports of a new name at once: the loser sees the winner's row on a second try.
    if (!(error instanceof NameRace)) throw error;
    return attempt().catch((again) => {
      throw again instanceof NameRace ? again.cause : again;
    });
  }
}

/** Another transaction inserted the same name between our read and our insert. */
class NameRace extends Error {
  constructor(override readonly cause: ConnectError) {
    super(cause.message);
  }
}

/** The server_json field of an ImportServer request as a JSON object; INVALID_ARGUMENT when absent. */
export function requireDocument(doc: unknown): JsonObject {
  if (!isObject(doc) || Object.keys(doc).length === 0) {
    throw invalidArgument([
      { field: "server_json", description: "is required: a server.json document" },
    ]);
  }
  return doc;
}
