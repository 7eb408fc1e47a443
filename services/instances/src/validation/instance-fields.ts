import { DesiredState } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { Problems } from "./problems.js";

/** Instance names are DNS labels: they appear in the MCP path /mcp/<name> and in container names. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks an instance name. */
export function checkName(name: string, at: string, problems: Problems): void {
  if (!name) problems.add(at, "is required");
  else if (!NAME.test(name))
    problems.add(at, "must be lowercase letters, digits and dashes (at most 63), like my-server");
}

/** Checks a description's length. */
export function checkDescription(description: string, at: string, problems: Problems): void {
  if (description.length > 2000) problems.add(at, "must be at most 2000 characters");
}

/** The desired state to store (RUNNING when unspecified); reports values outside the enum. */
export function desiredStateOf(state: DesiredState, at: string, problems: Problems): DesiredState {
  if (state === DesiredState.UNSPECIFIED) return DesiredState.RUNNING;
  if (state !== DesiredState.RUNNING && state !== DesiredState.STOPPED)
    problems.add(at, "must be DESIRED_STATE_RUNNING or DESIRED_STATE_STOPPED");
  return state;
}

/** A UUID, as instance and server ids are. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** JSON with object keys sorted, to compare specs by content. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
