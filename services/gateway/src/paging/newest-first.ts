import { decodePageToken, encodePageToken } from "@berth/platform";
import type { EntityName, FilterQuery } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";

/** What a table listed newest first needs: its keyset (create time, id). */
interface Keyed {
  id: string;
  createTime: Date;
}

/** One page of rows and the token of the next (empty on the last page). */
export interface NewestFirstPage<T> {
  rows: T[];
  nextPageToken: string;
}

/**
 * One page of a gateway table, newest first, continued by the platform's keyset token (create
 * time, id) bound to `digest` (the listing it came from): the one paging of API keys, virtual
 * servers and users. One row more than the page is read to know whether another page follows.
 */
export async function listNewestFirst<T extends Keyed>(
  em: EntityManager,
  entity: EntityName<T>,
  page: {
    pageSize: number;
    pageToken: string;
    digest: string;
    idPattern?: RegExp;
    /** Only rows matching this (the caller's teams); part of the listing `digest` names. */
    filter?: FilterQuery<T>;
  },
): Promise<NewestFirstPage<T>> {
  const after = page.pageToken
    ? decodePageToken(page.pageToken, page.digest, page.idPattern)
    : undefined;
  const keyset = after
    ? {
        $or: [
          { createTime: { $lt: after.createdAt } },
          { createTime: after.createdAt, id: { $lt: after.id } },
        ],
      }
    : {};
  const where = page.filter ? { $and: [keyset, page.filter] } : keyset;
  const rows = await em.find(entity, where as FilterQuery<T>, {
    orderBy: { createTime: "desc", id: "desc" } as never,
    limit: page.pageSize + 1,
  });
  const shown = rows.slice(0, page.pageSize);
  const last = shown.at(-1);
  return {
    rows: shown,
    nextPageToken:
      rows.length > page.pageSize && last
        ? encodePageToken({ createdAt: last.createTime, id: last.id }, page.digest)
        : "",
  };
}
