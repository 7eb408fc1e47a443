import { randomUUID } from "node:crypto";
import {
  aborted,
  alreadyExists,
  decodePageToken,
  encodePageToken,
  filterDigest,
  notFound,
} from "@berth/platform";
import { UUID_PATTERN } from "@berth/spec";
import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { MemberSpec } from "./member-policy.js";
import { VirtualServerEntity, type VirtualServerRow } from "./virtual-server-entity.js";

const LIST_DIGEST = filterDigest({});

/** A page of virtual servers, newest first. */
export interface VirtualServerPage {
  rows: VirtualServerRow[];
  nextPageToken: string;
}

/** What an update changes; undefined fields stay. */
export interface VirtualServerChange {
  description?: string;
  members?: MemberSpec[];
}

/** Storage of virtual servers in the gateway schema. */
export interface VirtualServerStore {
  readonly orm: MikroORM;
  create(input: {
    name: string;
    description: string;
    members: MemberSpec[];
  }): Promise<VirtualServerRow>;
  /** By id or name. */
  find(ref: string): Promise<VirtualServerRow | null>;
  list(pageSize: number, pageToken: string): Promise<VirtualServerPage>;
  /** Applies a change under a row lock; revision 0 skips the check. NOT_FOUND, ABORTED. */
  update(ref: string, revision: bigint, change: VirtualServerChange): Promise<VirtualServerRow>;
  /** Deletes; NOT_FOUND, ABORTED. Returns the deleted row. */
  delete(ref: string, revision: bigint): Promise<VirtualServerRow>;
}

const whereRef = (ref: string) => (UUID_PATTERN.test(ref) ? { id: ref } : { name: ref });

/** A VirtualServerStore over the gateway's MikroORM. */
export function createVirtualServerStore(orm: MikroORM): VirtualServerStore {
  const locked = async <T>(
    ref: string,
    revision: bigint,
    work: (em: ReturnType<MikroORM["em"]["fork"]>, row: VirtualServerRow) => Promise<T>,
  ): Promise<T> =>
    orm.em.fork().transactional(async (em) => {
      const row = await em.findOne(VirtualServerEntity, whereRef(ref), {
        lockMode: LockMode.PESSIMISTIC_WRITE,
      });
      if (!row) throw notFound("virtual server", ref);
      if (revision !== 0n && revision !== BigInt(row.revision))
        throw aborted(`virtual server revision is ${row.revision}, not ${revision}; read it again`);
      return work(em, row);
    });

  return {
    orm,

    async create(input) {
      const em = orm.em.fork();
      const now = new Date();
      const row = em.create(VirtualServerEntity, {
        id: randomUUID(),
        ...input,
        revision: 1,
        createTime: now,
        updateTime: now,
      });
      try {
        await em.persistAndFlush(row);
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException)
          throw alreadyExists("virtual server", input.name);
        throw error;
      }
      return row;
    },

    find: (ref) => orm.em.fork().findOne(VirtualServerEntity, whereRef(ref)),

    async list(pageSize, pageToken) {
      const after = pageToken ? decodePageToken(pageToken, LIST_DIGEST) : undefined;
      const where = after
        ? {
            $or: [
              { createTime: { $lt: after.createdAt } },
              { createTime: after.createdAt, id: { $lt: after.id } },
            ],
          }
        : {};
      const rows = await orm.em.fork().find(VirtualServerEntity, where, {
        orderBy: { createTime: "desc", id: "desc" },
        limit: pageSize + 1,
      });
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      return {
        rows: page,
        nextPageToken:
          rows.length > pageSize && last
            ? encodePageToken({ createdAt: last.createTime, id: last.id }, LIST_DIGEST)
            : "",
      };
    },

    update: (ref, revision, change) =>
      locked(ref, revision, async (em, row) => {
        const before = JSON.stringify([row.description, row.members]);
        if (change.description !== undefined) row.description = change.description;
        if (change.members !== undefined) row.members = change.members;
        if (JSON.stringify([row.description, row.members]) !== before) {
          row.revision += 1;
          row.updateTime = new Date();
          await em.flush();
        }
        return row;
      }),

    delete: (ref, revision) =>
      locked(ref, revision, async (em, row) => {
        await em.removeAndFlush(row);
        return row;
      }),
  };
}
