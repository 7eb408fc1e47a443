import {
  decodePageToken,
  encodePageToken,
  type FieldViolation,
  filterDigest,
  invalidArgument,
} from "@berth/platform";
import {
  type ListServersRequest,
  type McpServer,
  ServerStatus,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { EntityManager } from "@mikro-orm/postgresql";
import { ServerEntity } from "./db/server-entity.js";
import { serverFromRow } from "./server-mapper.js";

/** Page size when the request gives none, and the largest page served. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** One page of a listing. */
export interface ServerPage {
  servers: McpServer[];
  nextPageToken: string;
}

/**
 * Lists entries oldest first, ties by id: a keyset order, so a page token stays valid while
 * entries are added (new ones come last) and every entry is served exactly once.
 */
export async function listServers(
  em: EntityManager,
  request: ListServersRequest,
): Promise<ServerPage> {
  const violations: FieldViolation[] = [];
  if (request.pageSize < 0) violations.push({ field: "page_size", description: "must be >= 0" });
  if (!(request.status in ServerStatus))
    violations.push({ field: "status", description: "is not a known status" });
  if (request.query.length > 200)
    violations.push({ field: "query", description: "must be at most 200 characters" });
  if (request.tag.length > 64)
    violations.push({ field: "tag", description: "must be at most 64 characters" });
  if (violations.length > 0) throw invalidArgument(violations);
  const filters = {
    tag: request.tag,
    status: request.status,
    isPublic: request.isPublic ?? null,
    query: request.query,
  };
  const digest = filterDigest(filters);
  const cursor = request.pageToken ? decodePageToken(request.pageToken, digest) : undefined;
  const size = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);

  const qb = em.createQueryBuilder(ServerEntity, "s").select("*");
  if (filters.tag) qb.andWhere("s.tags @> ?::jsonb", [JSON.stringify([filters.tag])]);
  if (filters.status !== ServerStatus.UNSPECIFIED) {
    qb.andWhere({ status: ServerStatus[filters.status] });
  }
  if (filters.isPublic !== null) qb.andWhere({ isPublic: filters.isPublic });
  if (filters.query) {
    const like = `%${filters.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    qb.andWhere("(s.name ilike ? or s.title ilike ? or s.description ilike ?)", [like, like, like]);
  }
  if (cursor) qb.andWhere("(s.created_at, s.id) > (?, ?)", [cursor.createdAt, cursor.id]);
  qb.orderBy({ createdAt: "asc", id: "asc" }).limit(size + 1);
  const rows = await qb.getResultList();
  const page = rows.slice(0, size);
  const last = page.at(-1);
  const nextPageToken =
    rows.length > size && last
      ? encodePageToken({ createdAt: last.createdAt, id: last.id }, digest)
      : "";
  return { servers: page.map(serverFromRow), nextPageToken };
}
