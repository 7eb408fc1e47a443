import { randomUUID } from "node:crypto";
import { aborted, alreadyExists, canonicalJson, filterDigest, notFound } from "@berth/platform";
import { UUID_PATTERN } from "@berth/spec";
import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { listNewestFirst } from "../paging/newest-first.js";
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

/**
 * Runs inside a write's transaction once the row changed (the audit trail records the change
 * there, so that both commit or neither): the row as written (as it was, for a delete), its
 * revision before, and the fields that changed.
 */
export type AfterVirtualServerWrite = (
  em: EntityManager,
  row: VirtualServerRow,
  revisionBefore: number,
  changedFields: string[],
) => Promise<void>;

/** Storage of virtual servers in the gateway schema. */
export interface VirtualServerStore {
  readonly orm: MikroORM;
  create(
    input: { name: string; team: string; description: string; members: MemberSpec[] },
    after?: AfterVirtualServerWrite,
  ): Promise<VirtualServerRow>;
  /** By id or name. */
  find(ref: string): Promise<VirtualServerRow | null>;
  /** Virtual servers of `teams`, newest first. */
  list(pageSize: number, pageToken: string, teams: readonly string[]): Promise<VirtualServerPage>;
  /**
   * Applies a change under a row lock; revision 0 skips the check. NOT_FOUND, ABORTED. `after`
   * runs only when something changed.
   */
  update(
    ref: string,
    revision: bigint,
    change: VirtualServerChange,
    after?: AfterVirtualServerWrite,
  ): Promise<VirtualServerRow>;
  /** Deletes; NOT_FOUND, ABORTED. Returns the deleted row. */
  delete(ref: string, revision: bigint, after?: AfterVirtualServerWrite): Promise<VirtualServerRow>;
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

    async create(input, after) {
      const now = new Date();
      try {
        return await orm.em.fork().transactional(async (em) => {
          const row = em.create(VirtualServerEntity, {
            id: randomUUID(),
            ...input,
            revision: 1,
            createTime: now,
            updateTime: now,
          });
          await em.persist(row).flush();
          await after?.(em, row, 0, ["name", "description", "members"]);
          return row;
        });
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException)
          throw alreadyExists("virtual server", input.name);
        throw error;
      }
    },

    find: (ref) => orm.em.fork().findOne(VirtualServerEntity, whereRef(ref)),

    list(pageSize, pageToken, teams) {
      return listNewestFirst(orm.em.fork(), VirtualServerEntity, {
        pageSize,
        pageToken,
        digest: LIST_DIGEST,
        filter: { team: { $in: [...teams] } },
      });
    },

    update: (ref, revision, change, after) =>
      locked(ref, revision, async (em, row) => {
        const changed: string[] = [];
        if (change.description !== undefined && change.description !== row.description) {
          row.description = change.description;
          changed.push("description");
        }
        if (
          change.members !== undefined &&
          // Canonical: jsonb gives keys back in its own order.
          canonicalJson(change.members) !== canonicalJson(row.members)
        ) {
          row.members = change.members;
          changed.push("members");
        }
        if (changed.length > 0) {
          row.revision += 1;
          row.updateTime = new Date();
          await em.flush();
          await after?.(em, row, row.revision - 1, changed);
        }
        return row;
      }),

    delete: (ref, revision, after) =>
      locked(ref, revision, async (em, row) => {
        await em.removeAndFlush(row);
        await after?.(em, row, row.revision, []);
        return row;
      }),
  };
}
