import { Role as RoleProto } from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import type { Scope } from "../auth/scopes.js";

/** A member's role in a team, lowest first. */
export type Role = "viewer" | "agent" | "editor" | "admin";

/** Every role, lowest first. */
export const ROLES: readonly Role[] = ["viewer", "agent", "editor", "admin"];

/**
 * What a role may do with its team's objects: read them (instances, virtual servers, their tools
 * and logs), call their MCP tools, write them (create, change, delete, start, stop), and manage
 * the team (members and API keys). An agent only calls tools; a viewer only reads.
 */
export type Action = "read" | "call" | "write" | "manage";

const ACTIONS: Record<Role, readonly Action[]> = {
  viewer: ["read"],
  agent: ["call"],
  editor: ["read", "call", "write"],
  admin: ["read", "call", "write", "manage"],
};

/** Whether `role` may do `action`. */
export function roleAllows(role: Role, action: Action): boolean {
  return ACTIONS[role].includes(action);
}

/** Whether `role` may do everything `other` may (a key's role never exceeds its creator's). */
export function roleCovers(role: Role, other: Role): boolean {
  return ACTIONS[other].every((action) => roleAllows(role, action));
}

export const isRole = (name: string): name is Role => (ROLES as readonly string[]).includes(name);

/** The API scopes that carry a role's actions (a key made with a role and no scopes gets these). */
export function scopesOfRole(role: Role): Scope[] {
  switch (role) {
    case "admin":
      return ["admin"];
    case "editor":
      return ["write", "mcp"];
    case "viewer":
      return ["read"];
    case "agent":
      return ["mcp"];
  }
}

/**
 * The role a set of scopes stood for before teams (existing keys and users, and keys created
 * with scopes but no role): admin is admin, write is editor, read is viewer, mcp alone is agent.
 */
export function roleOfScopes(scopes: readonly string[]): Role {
  if (scopes.includes("admin")) return "admin";
  if (scopes.includes("write")) return "editor";
  if (scopes.includes("read")) return "viewer";
  if (scopes.includes("mcp")) return "agent";
  return "viewer";
}

const TO_PROTO: Record<Role, RoleProto> = {
  viewer: RoleProto.VIEWER,
  agent: RoleProto.AGENT,
  editor: RoleProto.EDITOR,
  admin: RoleProto.ADMIN,
};

export const roleToProto = (role: Role): RoleProto => TO_PROTO[role];

/** The role of a proto value; undefined for ROLE_UNSPECIFIED or an unknown number. */
export function roleFromProto(value: RoleProto): Role | undefined {
  return ROLES.find((role) => TO_PROTO[role] === value);
}
