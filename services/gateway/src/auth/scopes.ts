import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { AuditService } from "@berth/proto/gen/berth/gateway/v1/audit_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { DelegationService } from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
import { TeamsService } from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import { UsersService } from "@berth/proto/gen/berth/gateway/v1/users_pb";
import { http } from "@berth/proto/gen/google/api/annotations_pb";
import { type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";

/** A permission of an API key. */
export type Scope = "admin" | "write" | "read" | "mcp" | "metrics";

/** Every scope, in the order they are shown. */
export const SCOPES: readonly Scope[] = ["admin", "write", "read", "mcp", "metrics"];

// admin is everything; write includes read; mcp (the MCP proxy) and metrics (GET /metrics, for
// scrapers) stand apart from the API scopes.
const IMPLIED: Record<Scope, readonly Scope[]> = {
  admin: ["admin", "write", "read", "mcp", "metrics"],
  write: ["write", "read"],
  read: ["read"],
  mcp: ["mcp"],
  metrics: ["metrics"],
};

// The audit trail names every key and instance: only admins read it.
const ADMIN_SERVICES = [
  ApiKeysService.typeName,
  DeadLettersService.typeName,
  AuditService.typeName,
  UsersService.typeName,
];

/** Whether a key holding `granted` may do what needs `needed`. */
export function allows(granted: Iterable<Scope>, needed: Scope): boolean {
  for (const scope of granted) if (IMPLIED[scope].includes(needed)) return true;
  return false;
}

/**
 * The scope an RPC needs, derived from its descriptor: API key management, dead letters
 * (events may name any instance) and the audit trail need admin; delegated credentials (a
 * person connecting their own upstream account) need mcp; a method
 * without side effects (idempotency_level NO_SIDE_EFFECTS, or bound to HTTP GET) needs read;
 * anything else needs write.
 */
export function requiredScope(method: DescMethod): Scope {
  if (ADMIN_SERVICES.includes(method.parent.typeName)) return "admin";
  // Connecting one's own upstream account is part of using MCP servers, not of managing them.
  if (method.parent.typeName === DelegationService.typeName) return "mcp";
  if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return "read";
  if (hasOption(method, http) && getOption(method, http).pattern.case === "get") return "read";
  // Changing a team's members is an admin's act, like managing its keys.
  if (method.parent.typeName === TeamsService.typeName) return "admin";
  return "write";
}
