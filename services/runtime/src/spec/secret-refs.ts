import { parseSecretRef } from "@berth/spec";
import type { RuntimeSpec } from "./types.js";

/** The values of a spec that may hold references (environment, headers, bearer token). */
function refValues(spec: RuntimeSpec): string[] {
  if (spec.type === "docker") return Object.values(spec.environment);
  return [...Object.values(spec.headers), ...(spec.bearerToken ? [spec.bearerToken] : [])];
}

/** Whether starting this spec needs secret values from the instances service. */
export function hasSecretRefs(spec: RuntimeSpec): boolean {
  return refValues(spec).some((value) => parseSecretRef(value) !== undefined);
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
    const ref = parseSecretRef(value);
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
