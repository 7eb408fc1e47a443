import type { Problems } from "./problems.js";

// One OAuth scope token (RFC 6749 §3.3: visible ASCII but space, `"` and `\`), at most 128 long.
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

/**
 * Checks a json_spec list of OAuth scopes (absent is fine): at most 32, each a scope token. One
 * place for both delegation kinds (the OAuth flow and token exchange), so they cannot drift.
 */
export function checkScopes(scopes: unknown, at: string, problems: Problems): void {
  if (scopes === undefined) return;
  if (!Array.isArray(scopes) || scopes.length > 32)
    problems.add(at, "must be a list of at most 32 scopes");
  else
    scopes.forEach((scope, i) => {
      if (typeof scope !== "string" || !SCOPE.test(scope))
        problems.add(`${at}[${i}]`, "must be an OAuth scope (visible ASCII, no spaces)");
    });
}
