import {
  EnvVarSchemaSchema,
  type McpServer,
  McpServerSchema,
  RemoteSchema,
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
  });
}

/** The stored columns of a catalog entry (all but id, revision and times). */
export function rowFieldsFromServer(server: McpServer) {
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
    transport:
      Transport[server.transport === Transport.UNSPECIFIED ? Transport.STDIO : server.transport],
    port: server.port,
    path: server.path,
    command: [...server.command],
    args: [...server.args],
    envSchema: server.envSchema.map((e) => toJson(EnvVarSchemaSchema, e)),
    remotes: server.remotes.map((r) => toJson(RemoteSchema, r)),
  };
}
