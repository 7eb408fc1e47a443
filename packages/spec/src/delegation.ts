/**
 * Delegated upstream credentials of a url instance (json_spec `delegation`): each user connects
 * with their own OAuth grant to the upstream server, and the gateway sends that user's access
 * token on their calls (never another user's, never their Berth token).
 *
 * ```json
 * "delegation": {
 *   "type": "oauth",
 *   "authorization_server": "https://auth.example.com",
 *   "client_id": "berth",
 *   "scopes": ["read", "write"]
 * }
 * ```
 *
 * Every field but `type` may be left out: the authorization server is then the first one the
 * upstream's protected resource metadata (RFC 9728) names, the client is registered dynamically
 * (RFC 7591) with the gateway's callback as its redirect URI, and the scopes are those the
 * metadata lists. A url spec has either `authentication` (one credential for everyone) or
 * `delegation`, not both.
 *
 * A confidential client adds `client_secret`: given in the spec (or as the write-only secret
 * `DELEGATION_CLIENT_SECRET`), the instances service seals it and json_spec keeps only its
 * reference `secret_ref:<instance_id>:DELEGATION_CLIENT_SECRET`; the gateway reads that one
 * value when it redeems a code or refreshes a token (client_secret_basic or _post, as the
 * authorization server's metadata allows).
 */
import { LIMITS } from "./limits.js";
import { checkScopes } from "./oauth-scopes.js";
import { checkKnownKeys, isObject, type Problems } from "./problems.js";
import { checkTokenExchange, isTokenExchange } from "./token-exchange.js";

/** Name of a delegation's sealed client secret (json_spec.delegation.client_secret). */
export const DELEGATION_CLIENT_SECRET = "DELEGATION_CLIENT_SECRET";

/** The delegation of a valid url spec, read with its defaults. */
export interface DelegationSpec {
  type: "oauth";
  /** The issuer to use; undefined: discovered from the upstream. */
  authorizationServer?: string;
  /** A client registered beforehand (public client); undefined: dynamic registration. */
  clientId?: string;
  /** A confidential client's secret: its `secret_ref:` (never the value) in a stored spec. */
  clientSecret?: string;
  /** Scopes to ask for; empty: the upstream's advertised scopes. */
  scopes: string[];
}

export const DELEGATION_FIELDS = [
  "type",
  "authorization_server",
  "client_id",
  "client_secret",
  "scopes",
] as const;

const CLIENT_ID = /^[\x21-\x7e]{1,255}$/;

/** Checks json_spec.delegation of a url spec; every problem names its field. */
export function checkDelegation(
  value: unknown,
  at: string,
  problems: Problems,
  /** The url spec's endpoint (a token_exchange resource must be on its origin). */
  endpoint?: unknown,
): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, 'must be an object such as {"type": "oauth"}');
    return;
  }
  // The second kind (token-exchange.ts): the caller's own token exchanged at its issuer.
  if (isTokenExchange(value)) {
    checkTokenExchange(value, at, problems, endpoint);
    return;
  }
  checkKnownKeys(value, DELEGATION_FIELDS, at, "a delegation", problems);
  if (value.type !== "oauth") problems.add(`${at}.type`, "must be oauth or token_exchange");
  const server = value.authorization_server;
  if (server !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof server === "string" && server.length <= 2048 ? new URL(server) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.username)
      problems.add(`${at}.authorization_server`, "must be an http:// or https:// issuer URL");
  }
  if (value.client_id !== undefined && !CLIENT_ID.test(String(value.client_id)))
    problems.add(`${at}.client_id`, "must be 1 to 255 visible ASCII characters");
  if (value.client_id !== undefined && typeof value.client_id !== "string")
    problems.add(`${at}.client_id`, "must be a string");
  const secret = value.client_secret;
  if (secret !== undefined) {
    if (typeof secret !== "string" || secret === "" || secret.length > LIMITS.secretValue)
      problems.add(
        `${at}.client_secret`,
        `must be a non-empty string of at most ${LIMITS.secretValue} characters`,
      );
    if (value.client_id === undefined)
      problems.add(`${at}.client_id`, "is required with client_secret (a confidential client)");
  }
  checkScopes(value.scopes, `${at}.scopes`, problems);
}

/** json_spec.delegation of a valid spec; undefined when the spec has none. */
export function readDelegation(value: unknown): DelegationSpec | undefined {
  if (!isObject(value) || isTokenExchange(value)) return undefined;
  return {
    type: "oauth",
    ...(typeof value.authorization_server === "string"
      ? { authorizationServer: value.authorization_server }
      : {}),
    ...(typeof value.client_id === "string" ? { clientId: value.client_id } : {}),
    ...(typeof value.client_secret === "string" ? { clientSecret: value.client_secret } : {}),
    scopes: Array.isArray(value.scopes) ? (value.scopes as string[]) : [],
  };
}
