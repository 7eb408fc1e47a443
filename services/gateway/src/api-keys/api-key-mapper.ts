import {
  type ApiKey,
  ApiKeySchema,
  ApiKeyScope,
  ApiKeyState,
  VirtualServerGrantSchema,
} from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Scope } from "../auth/scopes.js";
import { isRole, type Role, roleToProto } from "../teams/roles.js";
import type { ApiKeyRow } from "./api-key-entity.js";
import type { NewApiKey } from "./api-key-store.js";

const SCOPE_OF: Record<Scope, ApiKeyScope> = {
  admin: ApiKeyScope.ADMIN,
  write: ApiKeyScope.WRITE,
  read: ApiKeyScope.READ,
  mcp: ApiKeyScope.MCP,
  metrics: ApiKeyScope.METRICS,
};

/** The scope name of a proto scope (undefined for UNSPECIFIED or unknown numbers). */
export function scopeName(scope: ApiKeyScope): Scope | undefined {
  return (Object.keys(SCOPE_OF) as Scope[]).find((name) => SCOPE_OF[name] === scope);
}

/** The proto scope of a scope name (UNSPECIFIED for an unknown one). */
export function scopeProto(name: string): ApiKeyScope {
  return SCOPE_OF[name as Scope] ?? ApiKeyScope.UNSPECIFIED;
}

/** The proto message of a stored key: never its secret or hash. */
export function apiKeyFromRow(row: ApiKeyRow, now = new Date()): ApiKey {
  const state = row.revokeTime
    ? ApiKeyState.REVOKED
    : row.expireTime && row.expireTime <= now
      ? ApiKeyState.EXPIRED
      : ApiKeyState.ACTIVE;
  return create(ApiKeySchema, {
    id: row.id,
    displayName: row.displayName,
    scopes: row.scopes.map((s) => SCOPE_OF[s as Scope] ?? ApiKeyScope.UNSPECIFIED),
    instances: row.instances,
    virtualServers: (row.virtualServers ?? []).map((g) => create(VirtualServerGrantSchema, g)),
    rateLimitPerSecond: row.rateLimitPerSecond,
    rateLimitBurst: row.rateLimitBurst,
    team: row.team,
    role: isRole(row.role) ? roleToProto(row.role) : 0,
    state,
    createTime: timestampFromDate(row.createTime),
    ...(row.expireTime ? { expireTime: timestampFromDate(row.expireTime) } : {}),
    ...(row.revokeTime ? { revokeTime: timestampFromDate(row.revokeTime) } : {}),
  });
}

/** The stored fields of a validated key request. */
export function newApiKeyFrom(key: ApiKey, createdBy: string, team: string, role: Role): NewApiKey {
  return {
    team,
    role,
    displayName: key.displayName.trim(),
    scopes: [...new Set(key.scopes.map((s) => scopeName(s)!))],
    instances: [...new Set(key.instances)],
    virtualServers: key.virtualServers.map((g) => ({
      virtualServer: g.virtualServer,
      tools: [...new Set(g.tools)],
    })),
    rateLimitPerSecond: key.rateLimitPerSecond,
    rateLimitBurst: key.rateLimitBurst,
    expireTime: key.expireTime ? timestampDate(key.expireTime) : null,
    createdBy,
  };
}
