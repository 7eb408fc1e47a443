import { DesiredState } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { instanceNameProblem, LIMITS, type Problems, UUID_PATTERN } from "@berth/spec";

/** Checks an instance name: a DNS label that does not look like an id. */
export function checkName(name: string, at: string, problems: Problems): void {
  const problem = instanceNameProblem(name);
  if (problem) problems.add(at, problem);
}

/** Checks a description's length. */
export function checkDescription(description: string, at: string, problems: Problems): void {
  if (description.length > LIMITS.description)
    problems.add(at, `must be at most ${LIMITS.description} characters`);
}

/** The desired state to store (RUNNING when unspecified); reports values outside the enum. */
export function desiredStateOf(state: DesiredState, at: string, problems: Problems): DesiredState {
  if (state === DesiredState.UNSPECIFIED) return DesiredState.RUNNING;
  if (state !== DesiredState.RUNNING && state !== DesiredState.STOPPED)
    problems.add(at, "must be DESIRED_STATE_RUNNING or DESIRED_STATE_STOPPED");
  return state;
}

/** A UUID, as instance and server ids are (the one pattern, from @berth/spec). */
export const UUID = UUID_PATTERN;

export { DEFAULT_TEAM, TEAM_NAME_PATTERN as TEAM_NAME } from "@berth/spec";

/** JSON with object keys sorted, to compare specs by content. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
