import type { Role } from "../teams/roles.js";
import type { Scope } from "./scopes.js";

/** Who is calling: a verified API key (or OAuth access token) and what it may do. */
export interface Principal {
  /** The key's id; for an access token, the subject's actor id (`oauth_…`). */
  readonly keyId: string;
  /** For an access token: the user it speaks for. */
  readonly user?: { readonly issuer: string; readonly subject: string; readonly name: string };
  readonly scopes: readonly Scope[];
  /**
   * The teams the caller belongs to (by name) and their role in each: one for an API key, the
   * memberships of a signed-in user, or what an external issuer's claims map to.
   */
  readonly teams: ReadonlyMap<string, Role>;
  /** Instance ids or names the mcp scope is limited to; empty means all. */
  readonly instances: readonly string[];
  /** Virtual servers (ids) the mcp scope is limited to on /mcp/v/, with tool patterns in each. */
  readonly virtualServers: readonly { virtualServer: string; tools: readonly string[] }[];
  /** Per-key rate limit; 0 takes the gateway default. */
  readonly rateLimitPerSecond: number;
  readonly rateLimitBurst: number;
  readonly expireTime: Date | null;
}

/** Reads one request header by lower-case name (Fetch Headers or Node's header object). */
export type HeaderReader = (name: string) => string | undefined;

/** Verifies API keys, with a short cache of verified ones. */
export interface Authenticator {
  /**
   * The caller's principal; throws UNAUTHENTICATED when the key is missing, wrong or revoked.
   * `resourcePath` (the request path) decides which audience an access token must carry.
   */
  authenticate(header: HeaderReader, resourcePath?: string): Promise<Principal>;
  /** Drops a key from the cache (after a revocation). */
  forget(keyId: string): void;
}

/** The gateway's default per-key rate limit. */
export interface RateLimitDefaults {
  perSecond: number;
  burst: number;
}

/** Authentication, scope check and rate limit in one step, shared by RPCs and the MCP proxy. */
export type Gatekeeper = (
  header: HeaderReader,
  needed: Scope,
  /** The caller's address, for the limit on failed authentications. */
  client?: string,
  /** The request path: the protected resource an access token must be meant for. */
  resourcePath?: string,
) => Promise<Principal>;
