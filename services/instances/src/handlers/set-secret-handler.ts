import { type FieldViolation, invalidArgument } from "@berth/platform";
import type { SetInstanceSecretRequest } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { AUTH_TOKEN_SECRET, createProblems, DELEGATION_CLIENT_SECRET } from "@berth/spec";
import { recordInstanceEvent } from "../instance-events.js";
import { assertNotDeleting, commitWrite, type InstancesDeps, lockInstance } from "./deps.js";

import { applySpec, rebuildSpec, serverOf } from "./spec-rebuild.js";

/** SetInstanceSecret: seals one value (a secret env_schema variable or the url bearer token). */
export async function setInstanceSecret(deps: InstancesDeps, request: SetInstanceSecretRequest) {
  const early: FieldViolation[] = [];
  if (!request.id) early.push({ field: "id", description: "is required" });
  if (!request.name) early.push({ field: "name", description: "is required" });
  if (!request.value) early.push({ field: "value", description: "is required" });
  if (early.length > 0) throw invalidArgument(early);
  const server = await serverOf(deps, request.id);

  return commitWrite(deps, async (em) => {
    const row = await lockInstance(em, request.id);
    assertNotDeleting(row);
    const problems = createProblems();
    const variable = server?.envSchema.find((v) => v.name === request.name);
    const known =
      row.specType === "url"
        ? request.name === AUTH_TOKEN_SECRET || request.name === DELEGATION_CLIENT_SECRET
        : variable?.secret;
    if (!known) {
      const what =
        row.specType === "url"
          ? `${AUTH_TOKEN_SECRET} or ${DELEGATION_CLIENT_SECRET}`
          : "a secret variable of its server";
      throw invalidArgument([{ field: "name", description: `must be ${what}` }]);
    }
    const given = { [request.name]: request.value };
    const rebuilt = await rebuildSpec(
      deps,
      em,
      row,
      { raw: row.jsonSpec, secrets: given, givenAt: "secrets" },
      server,
      problems,
    );
    // The value's problems are reported on this request's own field.
    const prefix = `secrets.${request.name}`;
    const violations = problems.list.map((v) =>
      v.field === prefix ? { ...v, field: "value" } : v,
    );
    if (violations.length > 0) throw invalidArgument(violations);
    await applySpec(deps, em, row, rebuilt.built, rebuilt.toStore);
    row.generation += 1;
    row.revision += 1;
    row.updatedAt = new Date();
    recordInstanceEvent(em, row, { kind: "updated", changedFields: [`secrets.${request.name}`] });
    return { row, changed: true };
  });
}
