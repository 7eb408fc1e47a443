import { Code, ConnectError } from "@berth/platform";
import { parseSecretRef } from "@berth/spec";
import { hasSecretRefs, resolveSecretRefs, SecretRefError } from "../spec/secret-refs.js";
import type { RuntimeSpec } from "../spec/types.js";
import type { SecretResolver } from "./secret-resolver.js";

const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Internal]);

/** A spec ready to start: secret values in place, and which environment variables hold them. */
export type PreparedSpec =
  | { ok: true; spec: RuntimeSpec; secretEnv: Record<string, string> }
  | { ok: false; message: string };

/**
 * The spec with its secret references replaced by values from the instances service. A refusal
 * that retrying cannot fix (not found, stale generation, bad credential, a secret not set) is a
 * failure naming the cause; an unreachable instances service throws, to be retried. Environment
 * variables that held references are moved out of the environment into secretEnv, so a driver
 * can deliver them through a channel that leaves no copy.
 */
export async function withSecrets(
  spec: RuntimeSpec,
  instanceId: string,
  generation: number,
  secrets: SecretResolver,
): Promise<PreparedSpec> {
  if (!hasSecretRefs(spec)) return { ok: true, spec, secretEnv: {} };
  let values: Record<string, string>;
  try {
    values = await secrets.resolve(instanceId, generation);
  } catch (error) {
    const connect = error instanceof ConnectError ? error : undefined;
    if (!connect || TRANSIENT.has(connect.code)) throw error;
    return { ok: false, message: `cannot resolve secrets: ${connect.rawMessage}` };
  }
  let resolved: RuntimeSpec;
  try {
    resolved = resolveSecretRefs(spec, instanceId, values);
  } catch (error) {
    if (error instanceof SecretRefError) return { ok: false, message: error.message };
    throw error;
  }
  if (resolved.type !== "docker" || spec.type !== "docker") {
    return { ok: true, spec: resolved, secretEnv: {} };
  }
  const environment: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(resolved.environment)) {
    const wasRef = parseSecretRef(spec.environment[key] ?? "") !== undefined;
    (wasRef ? secretEnv : environment)[key] = value;
  }
  return { ok: true, spec: { ...resolved, environment }, secretEnv };
}
