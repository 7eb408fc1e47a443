import { aborted, invalidArgument } from "@berth/platform";
import {
  DesiredState,
  type UpdateInstanceRequest,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { createProblems } from "@berth/spec";
import { recordInstanceEvent } from "../instance-events.js";
import { desiredStateName } from "../instance-mapper.js";
import { checkDescription, desiredStateOf } from "../validation/instance-fields.js";
import { assertNotDeleting, commitWrite, type InstancesDeps, lockInstance } from "./deps.js";

import { applySpec, assertNoSecretReroute, rebuildSpec, serverOf } from "./spec-rebuild.js";

const MUTABLE = ["description", "json_spec", "desired_state"] as const;

/**
 * UpdateInstance: the fields of update_mask (description, json_spec, desired_state; all set
 * fields when empty) plus write-only secrets. A spec or secret change bumps the generation and
 * emits McpServerInstanceUpdated; a desired state change emits Started or Stopped.
 */
export async function updateInstance(deps: InstancesDeps, request: UpdateInstanceRequest) {
  const input = request.instance;
  if (!input?.id) throw invalidArgument([{ field: "instance.id", description: "is required" }]);
  const problems = createProblems();
  const given = request.updateMask?.paths ?? [];
  for (const path of given) {
    if (!MUTABLE.includes(path as never))
      problems.add("update_mask", `${path} cannot be updated (allowed: ${MUTABLE.join(", ")})`);
  }
  const paths = new Set<string>(given.length > 0 ? given : []);
  if (given.length === 0) {
    if (input.description) paths.add("description");
    if (input.jsonSpec) paths.add("json_spec");
    if (input.desiredState !== DesiredState.UNSPECIFIED) paths.add("desired_state");
  }
  if (paths.has("description"))
    checkDescription(input.description, "instance.description", problems);
  const desired = paths.has("desired_state")
    ? desiredStateOf(input.desiredState, "instance.desired_state", problems)
    : undefined;
  const respec = paths.has("json_spec") || Object.keys(request.secrets).length > 0;
  const server = respec ? await serverOf(deps, input.id) : undefined;

  return commitWrite(deps, async (em) => {
    const row = await lockInstance(em, input.id);
    if (input.revision !== 0n && input.revision !== BigInt(row.revision))
      throw aborted(`instance revision is ${row.revision}, not ${input.revision}; read it again`);
    assertNotDeleting(row);
    const rebuilt = respec
      ? await rebuildSpec(
          deps,
          em,
          row,
          {
            raw: paths.has("json_spec") ? input.jsonSpec : row.jsonSpec,
            secrets: request.secrets,
            givenAt: "secrets",
          },
          server,
          problems,
        )
      : undefined;
    if (problems.list.length > 0) throw invalidArgument(problems.list);
    if (rebuilt) assertNoSecretReroute(row, rebuilt.built, rebuilt.toStore);
    const changed: string[] = [];
    if (paths.has("description") && input.description !== row.description) {
      row.description = input.description;
      changed.push("description");
    }
    if (rebuilt && (await applySpec(deps, em, row, rebuilt.built, rebuilt.toStore))) {
      changed.push("json_spec", ...[...rebuilt.toStore.keys()].map((name) => `secrets.${name}`));
      row.generation += 1;
    }
    const desiredChanged = desired !== undefined && desiredStateName(desired) !== row.desiredState;
    if (desiredChanged) row.desiredState = desiredStateName(desired);
    if (changed.length === 0 && !desiredChanged) return { row, changed: false };
    row.revision += 1;
    row.updatedAt = new Date();
    if (changed.length > 0)
      recordInstanceEvent(em, row, { kind: "updated", changedFields: changed });
    if (desiredChanged)
      recordInstanceEvent(em, row, {
        kind: desired === DesiredState.RUNNING ? "started" : "stopped",
      });
    return { row, changed: true };
  });
}
