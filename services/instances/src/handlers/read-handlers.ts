import {
  ConnectError,
  createPreparedReads,
  decodePageToken,
  encodePageToken,
  fieldViolationsOf,
  filterDigest,
  invalidArgument,
  notFound,
  type PageCursor,
  type PreparedReads,
} from "@berth/platform";
import {
  DesiredState,
  InstanceStatus,
  type ListInstancesRequest,
  type ListInstancesResponseSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { createProblems } from "@berth/spec";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import { InstanceEntity, type InstanceRow } from "../db/instance-entity.js";
import { desiredStateName, instanceFromRow, statusName } from "../instance-mapper.js";
import { TEAM_NAME, UUID } from "../validation/instance-fields.js";
import { type InstancesDeps, keyWhere } from "./deps.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

// One set of prepared reads per database (a process has one; tests may start several services).
const preparedReads = new WeakMap<MikroORM, PreparedReads<InstanceRow>>();
function readsOf(orm: MikroORM): PreparedReads<InstanceRow> {
  let reads = preparedReads.get(orm);
  if (!reads) {
    reads = createPreparedReads(orm, InstanceEntity);
    preparedReads.set(orm, reads);
  }
  return reads;
}

/** GetInstance by id or name. */
export async function getInstance(deps: InstancesDeps, idOrName: string) {
  const reads = readsOf(deps.orm);
  const column = "id" in keyWhere(idOrName) ? "id" : "name";
  const [row] = idOrName
    ? await reads.query(
        `instances.by_${column}`,
        `select ${reads.columns} from instances where ${column} = $1`,
        [idOrName],
      )
    : [];
  if (!row) throw notFound("instance", idOrName);
  return instanceFromRow(row);
}

/** ListInstances in creation order, filtered by server, status and desired state. */
export async function listInstances(
  deps: InstancesDeps,
  request: ListInstancesRequest,
): Promise<MessageInitShape<typeof ListInstancesResponseSchema>> {
  const problems = createProblems();
  if (request.pageSize < 0) problems.add("page_size", "must not be negative");
  // A token only continues the listing (same filters) it was issued for.
  const digest = filterDigest([
    request.serverId,
    request.status,
    request.desiredState,
    request.teams.join(","),
  ]);
  let position: PageCursor | undefined;
  try {
    position = request.pageToken ? decodePageToken(request.pageToken, digest) : undefined;
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    for (const v of fieldViolationsOf(error)) problems.add(v.field, v.description);
  }
  if (request.serverId && !UUID.test(request.serverId))
    problems.add("server_id", "must be a server id (UUID)");
  request.teams.forEach((team, i) => {
    if (!TEAM_NAME.test(team)) problems.add(`teams[${i}]`, "must be a team name");
  });
  if (!(request.status in InstanceStatus)) problems.add("status", "is not an instance status");
  if (!(request.desiredState in DesiredState))
    problems.add("desired_state", "is not a desired state");
  if (problems.list.length > 0) throw invalidArgument(problems.list);

  const size = Math.min(request.pageSize || DEFAULT_PAGE, MAX_PAGE);
  // A page is one prepared statement per combination of filters (at most 16 texts), in keyset
  // order: (created_at, id) after the token's position.
  const conditions: string[] = [];
  const values: unknown[] = [];
  const filter = (condition: (at: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(condition(`$${values.length}`));
  };
  if (request.serverId) filter((at) => `server_id = ${at}`, request.serverId);
  if (request.teams.length > 0) filter((at) => `team = any(${at})`, request.teams);
  if (request.status !== InstanceStatus.UNSPECIFIED)
    filter((at) => `status = ${at}`, statusName(request.status));
  if (request.desiredState !== DesiredState.UNSPECIFIED)
    filter((at) => `desired_state = ${at}`, desiredStateName(request.desiredState));
  if (position) {
    values.push(position.createdAt, position.id);
    conditions.push(`(created_at, id) > ($${values.length - 1}, $${values.length})`);
  }
  values.push(size + 1);
  const reads = readsOf(deps.orm);
  const where = conditions.length > 0 ? ` where ${conditions.join(" and ")}` : "";
  const text = `select ${reads.columns} from instances${where} order by created_at, id limit $${values.length}`;
  const shape = conditions.map((c) => c.split(" ")[0]).join(",");
  const rows = await reads.query(`instances.list(${shape})`, text, values);
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  return {
    instances: page.map(instanceFromRow),
    nextPageToken:
      rows.length > size && last
        ? encodePageToken({ createdAt: last.createdAt, id: last.id }, digest)
        : "",
  };
}
