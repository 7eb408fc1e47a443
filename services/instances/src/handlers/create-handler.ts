import { randomUUID } from "node:crypto";
import {
  alreadyExists,
  failpoint,
  insertRows,
  invalidArgument,
  OutboxMessage,
} from "@berth/platform";
import type {
  CreateInstanceRequest,
  CreateInstanceResponseSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { createProblems } from "@berth/spec";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { UniqueConstraintViolationException } from "@mikro-orm/core";
import { InstanceEntity, type InstanceRow } from "../db/instance-entity.js";
import { createdEventRow, recordInstanceEvent } from "../instance-events.js";
import { desiredStateName, endpointFor, instanceFromRow } from "../instance-mapper.js";
import {
  checkDescription,
  checkName,
  DEFAULT_TEAM,
  desiredStateOf,
  TEAM_NAME,
} from "../validation/instance-fields.js";
import { buildSpec, checkResolvedEndpoint } from "../validation/spec-builder.js";
import { commitWrite, type InstancesDeps } from "./deps.js";

/**
 * The common create (no secret values to seal, no request id's transaction to join): the row and
 * McpServerInstanceCreated in one statement, one round trip instead of a transaction of four.
 */
async function insertCreated(deps: InstancesDeps, row: InstanceRow) {
  await insertRows(deps.orm, "instances.create", [
    { entity: InstanceEntity, values: row },
    { entity: OutboxMessage, values: createdEventRow(row) },
  ]);
  failpoint("outbox.after-commit");
  deps.kickOutbox();
  return instanceFromRow(row);
}

/**
 * CreateInstance: validates everything (reporting every problem at once), fetches the catalog
 * entry from the registry, seals secret values, and writes the row, its secrets and
 * McpServerInstanceCreated in one transaction. PENDING, generation 1.
 */
export async function createInstance(
  deps: InstancesDeps,
  request: CreateInstanceRequest,
): Promise<MessageInitShape<typeof CreateInstanceResponseSchema>> {
  const input = request.instance;
  if (!input) throw invalidArgument([{ field: "instance", description: "is required" }]);
  const problems = createProblems();
  checkName(input.name, "instance.name", problems);
  checkDescription(input.description, "instance.description", problems);
  const team = input.team || DEFAULT_TEAM;
  if (!TEAM_NAME.test(team)) problems.add("instance.team", "must be a team name");
  const desired = desiredStateOf(input.desiredState, "instance.desired_state", problems);
  const server = input.serverId ? await deps.lookup.find(input.serverId) : undefined;
  if (input.serverId && !server)
    problems.add("instance.server_id", `server "${input.serverId}" is not in the registry`);
  const id = randomUUID();
  const secrets = {
    instanceId: id,
    given: request.secrets,
    givenAt: "secrets",
    stored: new Set<string>(),
    toStore: new Map<string, string>(),
  };
  const at = "instance.json_spec";
  const built = buildSpec(
    { raw: input.jsonSpec, at, server, policy: deps.policy, secrets },
    problems,
  );
  if (built.type === "docker" && !input.serverId)
    problems.add("instance.server_id", "is required for docker instances");
  await checkResolvedEndpoint(built, at, deps.policy, problems);
  if (problems.list.length > 0) throw invalidArgument(problems.list);

  const now = new Date();
  const values: InstanceRow = {
    id,
    name: input.name,
    description: input.description,
    serverId: server?.id ?? null,
    team,
    specType: built.type!,
    jsonSpec: built.spec,
    desiredState: desiredStateName(desired),
    status: "PENDING",
    statusMessage: "",
    statusTime: null,
    statusGeneration: 0,
    statusSequence: 0,
    endpoint: endpointFor(input.name),
    upstream: null,
    idle: null,
    generation: 1,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  };
  try {
    // A taken name is the unique constraint's to report (caught below): no count round trip.
    const instance =
      secrets.toStore.size === 0 && !deps.joined
        ? await insertCreated(deps, values)
        : await commitWrite(deps, async (em) => {
            const row = em.create(InstanceEntity, values);
            await em.flush(); // the row first: secrets reference it
            await deps.secrets.put(em, id, secrets.toStore);
            recordInstanceEvent(em, row, { kind: "created" });
            return { row, changed: true };
          });
    deps.logger.info(
      { instance_id: id, name: input.name, server_id: server?.id },
      "instance created",
    );
    return { instance };
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException)
      throw alreadyExists("instance", input.name);
    throw error;
  }
}
