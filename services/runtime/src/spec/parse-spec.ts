import { InvalidSpecError, isInvalidSpecError, readJsonSpec } from "@berth/spec";
import type { ParsedSpec } from "./types.js";

export { parseMemory } from "@berth/spec";
/**
 * What a consumer of instance events refuses (to a dead-letter stream) instead of applying:
 * `specRefusal(json)` before a workload row is written, `isInvalidSpecError` on what it throws.
 */
export { InvalidSpecError, isInvalidSpecError };

/**
 * Reads an instance's json_spec (JSON form) with the one definition the instances service
 * validates with; problems are named as json_spec.<field>.
 */
export function parseSpec(json: unknown): ParsedSpec {
  const read = readJsonSpec(json);
  return read.ok ? read : { ok: false, message: read.message };
}

/**
 * Why the json_spec an event carries cannot be applied, as an InvalidSpecError naming every
 * field (references must belong to the event's instance); undefined when it can. Call it
 * before creating a workload row, so a nonsensical spec never becomes a workload.
 */
export function specRefusal(json: unknown, instanceId: string): InvalidSpecError | undefined {
  const read = readJsonSpec(json, { instanceId });
  return read.ok ? undefined : new InvalidSpecError(read.problems);
}
