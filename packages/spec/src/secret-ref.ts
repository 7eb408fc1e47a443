/**
 * The reference json_spec holds in place of a sealed value: `secret_ref:<instance_id>:<NAME>`.
 * The instances service writes them, the runtime resolves them, the CLI shows them as (secret).
 */
export const SECRET_REF_PREFIX = "secret_ref:";

/** Name of the url bearer token secret (json_spec.authentication.token). */
export const AUTH_TOKEN_SECRET = "AUTH_TOKEN";

/** A secret's name: an environment variable name. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const REF = /^secret_ref:([^:]+):([A-Za-z_][A-Za-z0-9_]*)$/;

/** A parsed reference. */
export interface SecretRef {
  instanceId: string;
  name: string;
}

/** The reference to an instance's secret `name`. */
export function formatSecretRef(instanceId: string, name: string): string {
  return `${SECRET_REF_PREFIX}${instanceId}:${name}`;
}

/** A reference split into its instance and name; undefined for any other value. */
export function parseSecretRef(value: string): SecretRef | undefined {
  const match = REF.exec(value);
  return match ? { instanceId: match[1]!, name: match[2]! } : undefined;
}

/**
 * Whether a value is meant as a reference (it has the prefix), well-formed or not: such a value
 * is never taken as a plain value, so a malformed reference cannot be sent somewhere by mistake.
 */
export function isSecretRef(value: unknown): boolean {
  return typeof value === "string" && value.startsWith(SECRET_REF_PREFIX);
}
