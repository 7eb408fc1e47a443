import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** A virtual server a key may use, by id, and the tool names or patterns within it (empty: all). */
export interface VirtualServerGrantSpec {
  virtualServer: string;
  tools: string[];
}

/** An API key row in the gateway schema; the secret is stored only as its SHA-256 hash. */
export const ApiKeyEntity = defineEntity({
  name: "ApiKeyRow",
  tableName: "api_keys",
  properties: (p) => ({
    id: p.string().primary(),
    displayName: p.string(),
    secretHash: p.string(),
    /** Scope names: admin, write, read, mcp, metrics. */
    scopes: p.json<string[]>().columnType("jsonb"),
    /** Instance ids or names the mcp scope is limited to; empty means all. */
    instances: p.json<string[]>().columnType("jsonb"),
    /** Virtual servers (ids) the mcp scope is limited to on /mcp/v/, each with tool patterns. */
    virtualServers: p.json<VirtualServerGrantSpec[]>().columnType("jsonb").default([]),
    rateLimitPerSecond: p.float().columnType("double precision").default(0),
    rateLimitBurst: p.integer().default(0),
    expireTime: p.datetime().columnType("timestamptz").nullable(),
    createTime: p.datetime().columnType("timestamptz"),
    revokeTime: p.datetime().columnType("timestamptz").nullable(),
    /** The team the key acts for (its name). */
    team: p.string().default("default"),
    /** The key's role in its team: viewer, agent, editor or admin. */
    role: p.string().default("admin"),
    /** The key that created this one (empty for the bootstrap key). */
    createdBy: p.string().default(""),
  }),
});

/** An API key row. */
export type ApiKeyRow = InferEntity<typeof ApiKeyEntity>;
