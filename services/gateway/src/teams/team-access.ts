import { Code, ConnectError, notFound } from "@berth/platform";
import { DEFAULT_TEAM } from "@berth/spec";
import { type ContextValues, createContextKey } from "@connectrpc/connect";
import type { Principal } from "../auth/types.js";
import { MCP_ACCESS } from "./access-table.js";
import { type Action, type Role, roleAllows } from "./roles.js";

/** The authenticated caller of an RPC, set by the auth interceptor for the handlers. */
export const PRINCIPAL = createContextKey<Principal | undefined>(undefined, {
  description: "the authenticated caller",
});

/** The caller of the RPC being handled; throws when none was set (a wiring bug). */
export function principalOf(ctx: { values: ContextValues }): Principal {
  const principal = ctx.values.get(PRINCIPAL);
  if (!principal) throw new ConnectError("no authenticated caller", Code.Internal);
  return principal;
}

/** The caller's role in `team`, if they are a member. */
export function roleIn(principal: Principal, team: string): Role | undefined {
  return principal.teams.get(team);
}

/**
 * The role the caller acts with in `team` for `action`: their own, except that the platform's
 * admins (admins of the default team) manage every team's members and keys, so that a new team
 * can be given its first admin. They do not thereby see or use the team's instances.
 */
export function roleFor(principal: Principal, team: string, action: Action): Role | undefined {
  if (action === "manage" && isPlatformAdmin(principal)) return "admin";
  return roleIn(principal, team);
}

/** The teams in which the caller may do `action`, by name. */
export function teamsWhere(principal: Principal, action: Action): string[] {
  return [...principal.teams].filter(([, role]) => roleAllows(role, action)).map(([t]) => t);
}

/** Whether the caller administers the platform (an admin of the default team). */
export function isPlatformAdmin(principal: Principal): boolean {
  return principal.teams.get(DEFAULT_TEAM) === "admin";
}

/**
 * Checks that the caller may do `action` on an object of `team`. A caller who is not a member of
 * the team learns nothing of the object: NOT_FOUND, as if it did not exist (names do not leak
 * across teams). A member whose role does not allow the action gets PERMISSION_DENIED.
 */
export function authorize(
  principal: Principal,
  team: string,
  action: Action,
  kind: string,
  ref: string,
): void {
  const role = roleFor(principal, team, action);
  if (!role) throw notFound(kind, ref);
  if (!roleAllows(role, action)) throw denied(role, action, team);
}

/** PERMISSION_DENIED naming the role, the action and the team. */
export function denied(role: Role | undefined, action: Action, team?: string): ConnectError {
  const where = team ? ` in team ${JSON.stringify(team)}` : "";
  const who = role ? `the ${role} role` : "the caller";
  return new ConnectError(`${who}${where} may not ${action}`, Code.PermissionDenied);
}

/**
 * The team a new object goes to: the one named, else the only team the caller may do `action`
 * in, else the default team. The caller must be allowed `action` there (NOT_FOUND for a team
 * they are not a member of).
 */
export function teamForNew(principal: Principal, named: string, action: Action): string {
  let team = named;
  if (team === "") {
    const candidates = teamsWhere(principal, action);
    team = candidates.length === 1 ? candidates[0]! : DEFAULT_TEAM;
  }
  authorize(principal, team, action, "team", team);
  return team;
}

/**
 * Whether the caller may use MCP servers of `team` (the access table's MCP row): "hidden" when
 * they are not a member (the endpoint answers 404), "denied" when their role does not allow it.
 */
export function mcpAccess(principal: Principal, team: string): "ok" | "hidden" | "denied" {
  const role = roleIn(principal, team);
  if (!role) return "hidden";
  return roleAllows(role, MCP_ACCESS.action) ? "ok" : "denied";
}
