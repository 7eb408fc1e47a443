import type { JWTPayload, JWTVerifyGetKey } from "jose";
import { SCOPES, type Scope } from "../auth/scopes.js";
import { isRole, type Role, roleCovers } from "../teams/roles.js";

/** An issuer whose access tokens the gateway accepts, and how its claims become Berth scopes. */
export interface TrustedIssuer {
  /** The issuer identifier, compared exactly with the token's iss claim. */
  readonly issuer: string;
  /** The keys its tokens are signed with (a remote JWKS, or the embedded server's own). */
  keys(): Promise<JWTVerifyGetKey>;
  /** Audiences accepted besides the gateway's own resource names (an IdP's fixed audience). */
  readonly audiences: readonly string[];
  /** The Berth scopes a token's claims grant. */
  scopesOf(claims: JWTPayload): Scope[];
  /** A readable name for the audit trail (a user name, an e-mail), or the subject. */
  nameOf(claims: JWTPayload): string;
  /** Refuses a token whose subject may no longer call (a removed user); optional. */
  check?(claims: JWTPayload): Promise<void>;
  /** The teams the subject belongs to and their role in each (none when absent). */
  teamsOf?(claims: JWTPayload): Promise<ReadonlyMap<string, Role>>;
}

/** How an issuer's claims map to Berth scopes (configured per external issuer). */
export interface ClaimMapping {
  /** The claim holding scopes: a space-separated string or an array (default: scope, then scp). */
  scopeClaim?: string;
  /** Issuer scope name → Berth scope; Berth's own scope names map to themselves unless listed. */
  scopes?: Record<string, string>;
  /** The claim holding group or role names (an array or a space-separated string). */
  groupsClaim?: string;
  /** Group or role name → Berth scopes its members get. */
  groups?: Record<string, string[]>;
  /**
   * Group or role name (in groupsClaim) → the teams its members join and their role in each,
   * such as `{ "platform-admins": { "default": "admin" }, "eng": { "eng": "editor" } }`. A user
   * in several groups gets the highest role each team is given.
   */
  teams?: Record<string, Record<string, string>>;
  /** The claim naming the user in the audit trail (default: preferred_username, email, sub). */
  nameClaim?: string;
}

function namesIn(value: unknown): string[] {
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
  return [];
}

const isScope = (name: string): name is Scope => (SCOPES as readonly string[]).includes(name);

/** The Berth scopes `claims` grant under `mapping`; names that map to nothing are ignored. */
export function mapScopes(claims: JWTPayload, mapping: ClaimMapping = {}): Scope[] {
  const granted = new Set<Scope>();
  const scopeNames = mapping.scopeClaim
    ? namesIn(claims[mapping.scopeClaim])
    : [...namesIn(claims.scope), ...namesIn(claims.scp)];
  for (const name of scopeNames) {
    const mapped = mapping.scopes?.[name] ?? name;
    if (isScope(mapped)) granted.add(mapped);
  }
  if (mapping.groupsClaim) {
    for (const group of namesIn(claims[mapping.groupsClaim])) {
      for (const scope of mapping.groups?.[group] ?? []) if (isScope(scope)) granted.add(scope);
    }
  }
  return SCOPES.filter((scope) => granted.has(scope));
}

/** The name the audit trail shows for a token's subject. */
export function nameOf(claims: JWTPayload, nameClaim?: string): string {
  for (const claim of [nameClaim, "preferred_username", "email"]) {
    const value = claim ? claims[claim] : undefined;
    if (typeof value === "string" && value !== "") return value;
  }
  return claims.sub ?? "";
}

/** The teams and roles `claims` grant under `mapping` (groupsClaim and teams); unknown roles ignored. */
export function mapTeams(claims: JWTPayload, mapping: ClaimMapping = {}): Map<string, Role> {
  const teams = new Map<string, Role>();
  if (!mapping.groupsClaim || !mapping.teams) return teams;
  for (const group of namesIn(claims[mapping.groupsClaim])) {
    for (const [team, role] of Object.entries(mapping.teams[group] ?? {})) {
      if (!isRole(role)) continue;
      const held = teams.get(team);
      if (!held || (roleCovers(role, held) && role !== held)) teams.set(team, role);
    }
  }
  return teams;
}
