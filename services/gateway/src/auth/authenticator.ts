import { createHash } from "node:crypto";
import { Code, ConnectError } from "@berth/platform";
import type { ApiKeyRow } from "../api-keys/api-key-entity.js";
import { parseApiKey, secretMatches } from "../api-keys/key-format.js";
import type { Role } from "../teams/roles.js";
import { credentialOf } from "./credential.js";
import type { Scope } from "./scopes.js";
import type { Authenticator, Principal } from "./types.js";

/** Options of createAuthenticator. */
export interface AuthenticatorOptions {
  /** Loads a key row by id. */
  load(id: string): Promise<ApiKeyRow | null>;
  /** How long a verified key is trusted without reading it again (revocations elsewhere wait this long). */
  cacheTtlMs?: number;
  now?: () => number;
}

const MAX_CACHED = 10_000;

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/** An Authenticator that checks keys against their stored hashes and caches verified ones briefly. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const ttl = options.cacheTtlMs ?? 10_000;
  const now = options.now ?? Date.now;
  // Keyed by a hash of the whole key: the cache never holds a usable credential.
  const cache = new Map<string, { principal: Principal; until: number }>();

  return {
    async authenticate(header) {
      const key = credentialOf(header);
      if (key === undefined) {
        throw unauthenticated("an API key is required: send authorization: Bearer <key>");
      }
      const parsed = parseApiKey(key);
      if (!parsed) throw unauthenticated("the API key is not valid");
      const digest = createHash("sha256").update(key).digest("base64");
      const cached = cache.get(digest);
      const principal =
        cached && cached.until > now() ? cached.principal : await verify(parsed.id, parsed.secret);
      if (!cached || cached.until <= now()) {
        if (cache.size >= MAX_CACHED) cache.clear();
        cache.set(digest, { principal, until: now() + ttl });
      }
      if (principal.expireTime && principal.expireTime.getTime() <= now()) {
        throw unauthenticated("the API key has expired");
      }
      return principal;
    },

    forget(keyId) {
      for (const [digest, entry] of cache) {
        if (entry.principal.keyId === keyId) cache.delete(digest);
      }
    },
  };

  async function verify(id: string, secret: string): Promise<Principal> {
    const row = await options.load(id);
    if (!row || !secretMatches(secret, row.secretHash)) {
      throw unauthenticated("the API key is not valid");
    }
    if (row.revokeTime) throw unauthenticated("the API key has been revoked");
    return {
      keyId: row.id,
      scopes: row.scopes as Scope[],
      teams: new Map([[row.team, row.role as Role]]),
      instances: row.instances,
      virtualServers: row.virtualServers ?? [],
      rateLimitPerSecond: row.rateLimitPerSecond,
      rateLimitBurst: row.rateLimitBurst,
      expireTime: row.expireTime ?? null,
    };
  }
}
