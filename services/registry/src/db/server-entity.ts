import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** A catalog entry row in the registry schema; lists are JSONB in their protobuf JSON form. */
export const ServerEntity = defineEntity({
  name: "ServerRow",
  tableName: "servers",
  properties: (p) => ({
    id: p.uuid().primary(),
    name: p.string().unique(),
    title: p.string().default(""),
    description: p.text().default(""),
    version: p.string().default(""),
    tags: p.json<string[]>().columnType("jsonb"),
    isPublic: p.boolean().default(false),
    status: p.string(),
    image: p.string().default(""),
    transport: p.string(),
    port: p.integer().default(0),
    path: p.string().default(""),
    command: p.json<string[]>().columnType("jsonb"),
    args: p.json<string[]>().columnType("jsonb"),
    envSchema: p.json<unknown[]>().columnType("jsonb"),
    remotes: p.json<unknown[]>().columnType("jsonb"),
    websiteUrl: p.string().default(""),
    /** An http server's container may reach the host and the internet (json_spec.network_egress). */
    networkEgress: p.boolean().default(false),
    /** Instances' idle policy default (json_spec.idle.timeout), seconds; 0: none. */
    idleTimeoutSeconds: p.integer().default(0),
    repository: p.json<Record<string, string>>().columnType("jsonb").nullable(),
    /** The imported server.json as given (json, not jsonb: key order survives for export). */
    serverJson: p.json<Record<string, unknown>>().columnType("json").nullable(),
    revision: p.bigint("number").default(1),
    createdAt: p.datetime().columnType("timestamptz"),
    updatedAt: p.datetime().columnType("timestamptz"),
  }),
});

/** A catalog entry row. */
export type ServerRow = InferEntity<typeof ServerEntity>;
