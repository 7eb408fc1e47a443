import type { RuntimeSpec } from "./types.js";

const REF = /^secret_ref:([^:]+):([A-Za-z_][A-Za-z0-9_]*)$/;

/** A `secret_ref:<instance_id>:<NAME>` value, split; undefined for any other value. */
export function readSecretRef(value: string): { instanceId: string; name: string } | undefined {
  const match = REF.exec(value);
  return match ? { instanceId: match[1]!, name: match[2]! } : undefined;
}

/** The values of a spec that may hold references (environment, headers, bearer token). */
function refValues(spec: RuntimeSpec): string[] {
  if (spec.type === "docker") return Object.values(spec.environment);
  return [...Object.values(spec.headers), ...(spec.bearerToken ? [spec.bearerToken] : [])];
}

/** Whether starting this spec needs secret values from the instances service. */
export function hasSecretRefs(spec: RuntimeSpec): boolean {
  return refValues(spec).some((value) => readSecretRef(value) !== undefined);
}

/** A reference that cannot be resolved; its message names the variable, never a value. */
export class SecretRefError extends Error {
  override readonly name = "SecretRefError";
}

/**
 * The spec with every reference replaced by its value. A reference to another instance or to a
 * secret that is not set throws a SecretRefError naming it.
 */
export function resolveSecretRefs<S extends RuntimeSpec>(
  spec: S,
  instanceId: string,
  values: Readonly<Record<string, string>>,
): S {
  const resolve = (value: string, where: string): string => {
    const ref = readSecretRef(value);
    if (!ref) return value;
    if (ref.instanceId !== instanceId) {
      throw new SecretRefError(`${where} refers to a secret of another instance`);
    }
    const secret = values[ref.name];
    if (secret === undefined) throw new SecretRefError(`secret ${ref.name} (${where}) is not set`);
    return secret;
  };
  const map = (record: Record<string, string>, prefix: string) =>
    Object.fromEntries(
      Object.entries(record).map(([k, v]) => [k, resolve(v, `json_spec.${prefix}.${k}`)]),
    );
  if (spec.type === "docker") return { ...spec, environment: map(spec.environment, "environment") };
  return {
    ...spec,
    headers: map(spec.headers, "headers"),
    bearerToken: spec.bearerToken
      ? resolve(spec.bearerToken, "json_spec.authentication.token")
      : undefined,
  };
}
