import {
  ConnectError,
  decodePageToken,
  encodePageToken,
  fieldViolationsOf,
  filterDigest,
  invalidArgument,
  notFound,
  type PageCursor,
} from "@berth/platform";
import {
  DesiredState,
  InstanceStatus,
  type ListInstancesRequest,
  type ListInstancesResponseSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { createProblems } from "@berth/spec";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { InstanceEntity } from "../db/instance-entity.js";
import { desiredStateName, instanceFromRow, statusName } from "../instance-mapper.js";
import { UUID } from "../validation/instance-fields.js";
import { type InstancesDeps, keyWhere } from "./deps.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

/** GetInstance by id or name. */
export async function getInstance(deps: InstancesDeps, idOrName: string) {
  const row = idOrName
    ? await deps.orm.em.fork().findOne(InstanceEntity, keyWhere(idOrName))
    : null;
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
  const digest = filterDigest([request.serverId, request.status, request.desiredState]);
  let position: PageCursor | undefined;
  try {
    position = request.pageToken ? decodePageToken(request.pageToken, digest) : undefined;
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    for (const v of fieldViolationsOf(error)) problems.add(v.field, v.description);
  }
  if (request.serverId && !UUID.test(request.serverId))
    problems.add("server_id", "must be a server id (UUID)");
  if (!(request.status in InstanceStatus)) problems.add("status", "is not an instance status");
  if (!(request.desiredState in DesiredState))
    problems.add("desired_state", "is not a desired state");
  if (problems.list.length > 0) throw invalidArgument(problems.list);

  const size = Math.min(request.pageSize || DEFAULT_PAGE, MAX_PAGE);
  const where: Record<string, unknown> = {};
  if (request.serverId) where.serverId = request.serverId;
  if (request.status !== InstanceStatus.UNSPECIFIED) where.status = statusName(request.status);
  if (request.desiredState !== DesiredState.UNSPECIFIED)
    where.desiredState = desiredStateName(request.desiredState);
  if (position) {
    where.$or = [
      { createdAt: { $gt: position.createdAt } },
      { createdAt: position.createdAt, id: { $gt: position.id } },
    ];
  }
  const rows = await deps.orm.em.fork().find(InstanceEntity, where, {
    orderBy: { createdAt: "asc", id: "asc" },
    limit: size + 1,
  });
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
