import {
  AUTH_TOKEN_SECRET,
  checkKnownKeys,
  DELEGATION_CLIENT_SECRET,
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
    if (name !== AUTH_TOKEN_SECRET && name !== DELEGATION_CLIENT_SECRET)
      problems.add(
        `${ctx.givenAt}.${name}`,
        `url instances take only ${AUTH_TOKEN_SECRET} and ${DELEGATION_CLIENT_SECRET}`,
      );
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

/**
 * Seals a url spec's delegation client secret like the bearer token: a value given in
 * `delegation.client_secret` or as the secret DELEGATION_CLIENT_SECRET is moved out (to
 * ctx.toStore) and the delegation keeps only its `secret_ref:`. Returns the delegation to store
 * (unchanged when it has no secret); `at` is the delegation's field path.
 */
export function buildDelegationSecret(
  delegation: JsonValue | undefined,
  at: string,
  ctx: SecretContext,
  problems: Problems,
): JsonValue | undefined {
  const givenAt = `${ctx.givenAt}.${DELEGATION_CLIENT_SECRET}`;
  let given: string | undefined = ctx.given[DELEGATION_CLIENT_SECRET];
  if (given !== undefined && (given === "" || given.length > LIMITS.secretValue)) {
    problems.add(givenAt, `must be 1 to ${LIMITS.secretValue} characters`);
    given = undefined;
  }
  if (!isObject(delegation)) {
    if (given !== undefined) problems.add(givenAt, "needs json_spec.delegation with a client_id");
    return delegation;
  }
  const field = `${at}.client_secret`;
  const secret = delegation.client_secret;
  if (secret === undefined && given === undefined) return delegation;
  const ref = secretRef(ctx.instanceId, DELEGATION_CLIENT_SECRET);
  if (typeof secret === "string" && isSecretRef(secret)) {
    if (secret !== ref || !(ctx.stored.has(DELEGATION_CLIENT_SECRET) || given !== undefined))
      problems.add(field, "is not a secret reference of this instance");
  } else if (typeof secret === "string" && secret !== "") {
    if (given !== undefined) problems.add(field, `is also given in ${givenAt}; give it once`);
    // Its shape was checked with the spec (checkDelegation): only a good value is kept.
    if (secret.length <= LIMITS.secretValue) ctx.toStore.set(DELEGATION_CLIENT_SECRET, secret);
  }
  if (given !== undefined) ctx.toStore.set(DELEGATION_CLIENT_SECRET, given);
  if (delegation.client_id === undefined && secret === undefined)
    problems.add(`${at}.client_id`, "is required with client_secret (a confidential client)");
  return { ...delegation, client_secret: ref };
}
