import {
  EnvVarSchemaSchema,
  type McpServer,
  McpServerSchema,
  RemoteSchema,
  RepositorySchema,
  ServerStatus,
  Transport,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServerRow } from "./db/server-entity.js";

/** The proto message of a stored catalog entry. */
export function serverFromRow(row: ServerRow): McpServer {
  return create(McpServerSchema, {
    id: row.id,
    name: row.name,
    title: row.title,
    description: row.description,
    version: row.version,
    tags: row.tags,
    isPublic: row.isPublic,
    status: ServerStatus[row.status as keyof typeof ServerStatus] ?? ServerStatus.UNSPECIFIED,
    image: row.image,
    transport: Transport[row.transport as keyof typeof Transport] ?? Transport.UNSPECIFIED,
    port: row.port,
    path: row.path,
    command: row.command,
    args: row.args,
    envSchema: row.envSchema.map((e) => fromJson(EnvVarSchemaSchema, e as JsonValue)),
    remotes: row.remotes.map((r) => fromJson(RemoteSchema, r as JsonValue)),
    createTime: timestampFromDate(row.createdAt),
    updateTime: timestampFromDate(row.updatedAt),
    revision: BigInt(row.revision),
    websiteUrl: row.websiteUrl,
    repository: row.repository ? fromJson(RepositorySchema, row.repository) : undefined,
    imported: row.serverJson != null,
    networkEgress: row.networkEgress,
    idleTimeoutSeconds: row.idleTimeoutSeconds,
  });
}

/** The stored columns of a catalog entry (all but id, revision, times and the imported document). */
export type ServerFields = ReturnType<typeof rowFieldsFromServer>;

/** The stored columns of a catalog entry, with defaults: status active, transport stdio, path /mcp. */
export function rowFieldsFromServer(server: McpServer) {
  const transport = server.transport === Transport.UNSPECIFIED ? Transport.STDIO : server.transport;
  const http = transport !== Transport.STDIO;
  const repository = server.repository ? toJson(RepositorySchema, server.repository) : {};
  return {
    name: server.name,
    title: server.title,
    description: server.description,
    version: server.version,
    tags: [...server.tags],
    isPublic: server.isPublic,
    status:
      ServerStatus[
        server.status === ServerStatus.UNSPECIFIED ? ServerStatus.ACTIVE : server.status
      ],
    image: server.image,
    transport: Transport[transport],
    port: server.port,
    path: http && !server.path ? "/mcp" : server.path,
    command: [...server.command],
    args: [...server.args],
    envSchema: server.envSchema.map((e) => toJson(EnvVarSchemaSchema, e)),
    remotes: server.remotes.map((r) => toJson(RemoteSchema, r)),
    websiteUrl: server.websiteUrl,
    networkEgress: server.networkEgress,
    idleTimeoutSeconds: server.idleTimeoutSeconds,
    repository:
      Object.keys(repository as object).length > 0 ? (repository as Record<string, string>) : null,
  };
}
