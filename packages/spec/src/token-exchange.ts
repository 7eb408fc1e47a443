/**
 * Token exchange (RFC 8693) toward a url instance's upstream (json_spec `delegation` of type
 * `token_exchange`): on each call of a signed-in user, the gateway exchanges the user's own
 * access token at its issuer for a token minted for the upstream, and sends that one.
 *
 * ```json
 * "delegation": {
 *   "type": "token_exchange",
 *   "issuer": "https://auth.example.com",
 *   "audience": "https://mcp.example.com",
 *   "resource": "https://mcp.example.com/mcp",
 *   "scopes": ["read"]
 * }
 * ```
 *
 * Every field but `type` may be left out: the issuer is then the one that issued the caller's
 * own token, the resource is the instance's endpoint (a resource given must be on the endpoint's
 * origin: tokens minted for a server go to that server only), no audience is named, and the
 * scopes are what the issuer grants by default. The gateway authenticates at the issuer as its own client
 * (the embedded authorization server's built-in one, or the one configured for an external
 * issuer in BERTH_OAUTH_ISSUERS): no client credential is part of the spec.
 */
import { checkScopes } from "./oauth-scopes.js";
import { checkKnownKeys, isObject, type JsonRecord, type Problems } from "./problems.js";

/** The token_exchange delegation of a valid url spec, read with its defaults. */
export interface TokenExchangeSpec {
  type: "token_exchange";
  /** The issuer to exchange at; undefined: the issuer of the caller's own token. */
  issuer?: string;
  /** RFC 8693 `audience`; undefined: none is sent. */
  audience?: string;
  /** RFC 8693 / RFC 8707 `resource`; undefined: the instance's endpoint. */
  resource?: string;
  /** Scopes to ask for; empty: none named (the issuer's default). */
  scopes: string[];
}

export const TOKEN_EXCHANGE_FIELDS = ["type", "issuer", "audience", "resource", "scopes"] as const;

const AUDIENCE = /^[\x21-\x7e]{1,1024}$/;

function httpUrl(value: unknown): URL | undefined {
  if (typeof value !== "string" || value.length > 2048) return undefined;
  try {
    const url = new URL(value);
    if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password)
      return undefined;
    return url;
  } catch {
    return undefined;
  }
}

/** Checks a json_spec.delegation whose type is token_exchange; every problem names its field. */
export function checkTokenExchange(
  value: JsonRecord,
  at: string,
  problems: Problems,
  endpoint?: unknown,
): void {
  checkKnownKeys(value, TOKEN_EXCHANGE_FIELDS, at, "a token_exchange delegation", problems);
  if (value.issuer !== undefined && !httpUrl(value.issuer))
    problems.add(`${at}.issuer`, "must be an http:// or https:// issuer URL");
  if (value.resource !== undefined) {
    const url = httpUrl(value.resource);
    const target = httpUrl(endpoint);
    if (!url || url.hash)
      problems.add(`${at}.resource`, "must be an http:// or https:// URL without a fragment");
    // Exchanged tokens go to the endpoint only: one minted for another server must not go there.
    else if (target && url.origin !== target.origin)
      problems.add(`${at}.resource`, `must be on the endpoint's origin (${target.origin})`);
  }
  if (
    value.audience !== undefined &&
    (typeof value.audience !== "string" || !AUDIENCE.test(value.audience))
  )
    problems.add(`${at}.audience`, "must be 1 to 1024 visible ASCII characters");
  checkScopes(value.scopes, `${at}.scopes`, problems);
}

/** Whether json_spec.delegation asks for token exchange. */
export function isTokenExchange(value: unknown): boolean {
  return isObject(value) && value.type === "token_exchange";
}

/** json_spec.delegation of a valid spec when it is a token exchange; undefined otherwise. */
export function readTokenExchange(value: unknown): TokenExchangeSpec | undefined {
  if (!isObject(value) || !isTokenExchange(value)) return undefined;
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const issuer = text(value.issuer);
  const audience = text(value.audience);
  const resource = text(value.resource);
  return {
    type: "token_exchange",
    ...(issuer ? { issuer } : {}),
    ...(audience ? { audience } : {}),
    ...(resource ? { resource } : {}),
    scopes: Array.isArray(value.scopes) ? (value.scopes as string[]) : [],
  };
}
