import { Code, ConnectError } from "@berth/platform";
import { hasSecretRefs, resolveSecretRefs, SecretRefError } from "../spec/secret-refs.js";
import type { ParsedSpec, RuntimeSpec } from "../spec/types.js";
import type { SecretResolver } from "./secret-resolver.js";

const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Internal]);

/**
 * The spec with its secret references replaced by values from the instances service. A refusal
 * that retrying cannot fix (not found, stale generation, bad credential, a secret not set) is a
 * failure naming the cause; an unreachable instances service throws, to be retried.
 */
export async function withSecrets(
  spec: RuntimeSpec,
  instanceId: string,
  generation: number,
  secrets: SecretResolver,
): Promise<ParsedSpec> {
  if (!hasSecretRefs(spec)) return { ok: true, spec };
  let values: Record<string, string>;
  try {
    values = await secrets.resolve(instanceId, generation);
  } catch (error) {
    const connect = error instanceof ConnectError ? error : undefined;
    if (!connect || TRANSIENT.has(connect.code)) throw error;
    return { ok: false, message: `cannot resolve secrets: ${connect.rawMessage}` };
  }
  try {
    return { ok: true, spec: resolveSecretRefs(spec, instanceId, values) };
  } catch (error) {
    if (error instanceof SecretRefError) return { ok: false, message: error.message };
    throw error;
  }
}

/** Whether an error means the engine itself does not answer (not the workload's fault). */
export function isEngineUnreachable(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "ECONNREFUSED" || code === "ENOENT" || code === "EACCES";
}

/** A readable reason for a Docker or driver failure (no request details, so no env values). */
export function describeStartError(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  if (isEngineUnreachable(error)) return "the Docker engine is unreachable";
  return (json?.message ?? (error instanceof Error ? error.message : String(error))).slice(0, 500);
}
