import {
  AUTH_TOKEN_SECRET,
  checkKnownKeys,
  isObject,
  isSecretRef,
  LIMITS,
  type Problems,
  formatSecretRef as secretRef,
} from "@berth/spec";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { SecretContext } from "./types.js";

/**
 * Builds a url spec's authentication: a bearer token given in the spec or in the request's
 * secrets is moved out (to ctx.toStore) and replaced by its `secret_ref:`. Undefined: none.
 */
export function buildUrlAuthentication(
  raw: JsonValue | undefined,
  at: string,
  ctx: SecretContext,
  problems: Problems,
): JsonObject | undefined {
  for (const name of Object.keys(ctx.given)) {
    if (name !== AUTH_TOKEN_SECRET)
      problems.add(`${ctx.givenAt}.${name}`, `url instances take only ${AUTH_TOKEN_SECRET}`);
  }
  let givenToken: string | undefined = ctx.given[AUTH_TOKEN_SECRET];
  if (givenToken !== undefined && givenToken.length > LIMITS.secretValue) {
    problems.add(
      `${ctx.givenAt}.${AUTH_TOKEN_SECRET}`,
      `must be at most ${LIMITS.secretValue} characters`,
    );
    givenToken = undefined;
  }
  if (raw !== undefined && !isObject(raw)) {
    problems.add(at, "must be an object");
    return undefined;
  }
  if (raw === undefined && givenToken === undefined) return undefined;
  const auth = raw ?? { type: "bearer" };
  checkKnownKeys(auth, ["type", "token"], at, "authentication", problems);
  const type = auth.type ?? "bearer";
  if (type === "none") {
    if (auth.token !== undefined || givenToken !== undefined)
      problems.add(`${at}.token`, "is not allowed with authentication type none");
    return { type };
  }
  if (type !== "bearer") {
    problems.add(`${at}.type`, "must be bearer or none");
    return undefined;
  }
  const ref = secretRef(ctx.instanceId, AUTH_TOKEN_SECRET);
  const token = auth.token;
  if (token !== undefined && typeof token !== "string")
    problems.add(`${at}.token`, "must be a string");
  else if (typeof token === "string" && isSecretRef(token)) {
    if (token !== ref || !(ctx.stored.has(AUTH_TOKEN_SECRET) || givenToken !== undefined))
      problems.add(`${at}.token`, "is not a secret reference of this instance");
  } else if (typeof token === "string" && token.length > LIMITS.secretValue) {
    problems.add(`${at}.token`, `must be at most ${LIMITS.secretValue} characters`);
  } else if (typeof token === "string" && token !== "") {
    if (givenToken !== undefined)
      problems.add(`${at}.token`, `is also given in ${ctx.givenAt}; give it once`);
    ctx.toStore.set(AUTH_TOKEN_SECRET, token);
  }
  if (givenToken) ctx.toStore.set(AUTH_TOKEN_SECRET, givenToken);
  if (!ctx.toStore.has(AUTH_TOKEN_SECRET) && !ctx.stored.has(AUTH_TOKEN_SECRET)) {
    problems.add(`${at}.token`, "is required for bearer authentication");
  }
  return { type: "bearer", token: ref };
}
