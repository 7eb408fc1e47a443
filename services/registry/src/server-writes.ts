import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { alreadyExists, recordEvent } from "@berth/platform";
import type { McpServer } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { type EntityManager, UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import { ServerEntity, type ServerRow } from "./db/server-entity.js";
import { serverCreated, serverUpdated } from "./server-events.js";
import { type ServerFields, serverFromRow } from "./server-mapper.js";

/** Proto field names of the stored columns, for McpServerUpdated.changed_fields. */
const PROTO_NAMES: Record<keyof ServerFields, string> = {
  name: "name",
  title: "title",
  description: "description",
  version: "version",
  tags: "tags",
  isPublic: "is_public",
  status: "status",
  image: "image",
  transport: "transport",
  port: "port",
  path: "path",
  command: "command",
  args: "args",
  envSchema: "env_schema",
  remotes: "remotes",
  websiteUrl: "website_url",
  repository: "repository",
  networkEgress: "network_egress",
  idleTimeoutSeconds: "idle_timeout_seconds",
};

/** Inserts an entry and records McpServerCreated, inside the caller's transaction. */
export async function insertServer(
  em: EntityManager,
  fields: ServerFields,
  serverJson: Record<string, unknown> | null = null,
): Promise<McpServer> {
  if (await em.count(ServerEntity, { name: fields.name })) {
    throw alreadyExists("server", fields.name);
  }
  const now = new Date();
  const row = em.create(ServerEntity, {
    id: randomUUID(),
    ...fields,
    serverJson,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  });
  const server = serverFromRow(row);
  em.persist(row);
  recordEvent(em, serverCreated(server));
  await em.flush().catch((error) => rethrowUnique(error, fields.name));
  return server;
}

/**
 * Writes new field values to a (locked) row when any differs: revision + 1, McpServerUpdated
 * with the changed fields. Returns the changed proto field names (none: nothing written).
 */
export async function updateServerRow(
  em: EntityManager,
  row: ServerRow,
  fields: ServerFields,
  serverJson?: Record<string, unknown> | null,
): Promise<string[]> {
  // Deep equality, not JSON text: jsonb gives objects back with their keys reordered.
  const changed = (Object.keys(PROTO_NAMES) as (keyof ServerFields)[]).filter(
    (key) => !isDeepStrictEqual(row[key], fields[key]),
  );
  const docChanged = serverJson !== undefined && !isDeepStrictEqual(row.serverJson, serverJson);
  if (changed.length === 0 && !docChanged) return [];
  if (changed.includes("name") && (await em.count(ServerEntity, { name: fields.name }))) {
    throw alreadyExists("server", fields.name);
  }
  em.assign(row, { ...fields, revision: row.revision + 1, updatedAt: new Date() });
  if (docChanged) row.serverJson = serverJson ?? null;
  // A new imported document with the same mapped fields still counts (export changes).
  const names = [...changed.map((key) => PROTO_NAMES[key]), ...(docChanged ? ["server_json"] : [])];
  recordEvent(em, serverUpdated(serverFromRow(row), names));
  await em.flush().catch((error) => rethrowUnique(error, fields.name));
  return names;
}

function rethrowUnique(error: unknown, name: string): never {
  if (error instanceof UniqueConstraintViolationException) throw alreadyExists("server", name);
  throw error;
}
