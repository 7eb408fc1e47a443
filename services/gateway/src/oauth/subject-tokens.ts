import type { Principal } from "../auth/types.js";

// The bearer token a principal was verified from, beside the principal rather than in it: a
// principal is logged, cached and copied in places where a token must never be, and a WeakMap
// entry goes with the principal object (one per request).
const tokens = new WeakMap<Principal, string>();

/** Remembers the access token a principal was made from (the bearer authenticator does). */
export function rememberSubjectToken(principal: Principal, token: string): void {
  tokens.set(principal, token);
}

/**
 * The access token the caller authenticated with, for token exchange (RFC 8693) at its issuer
 * only; undefined for an API key. Never forwarded anywhere else.
 */
export function subjectTokenOf(principal: Principal): string | undefined {
  return tokens.get(principal);
}
