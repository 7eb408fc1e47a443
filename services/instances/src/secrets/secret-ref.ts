const PREFIX = "secret_ref:";

/** The reference json_spec holds in place of a secret value: `secret_ref:<instance_id>:<NAME>`. */
export function secretRef(instanceId: string, name: string): string {
  return `${PREFIX}${instanceId}:${name}`;
}

/** Whether a string is shaped like a secret reference (of any instance). */
export function isSecretRef(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** Name of the url bearer token secret (json_spec.authentication.token). */
export const AUTH_TOKEN_SECRET = "AUTH_TOKEN";
