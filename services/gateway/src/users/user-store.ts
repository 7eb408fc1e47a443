import { filterDigest } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { OAUTH_RECORDS_TABLE } from "../oauth/embedded/postgres-adapter.js";
import { listNewestFirst } from "../paging/newest-first.js";
import { UserEntity, type UserRow } from "./user-entity.js";

const LIST_DIGEST = filterDigest({});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A new user: the password already hashed. */
export interface NewUser {
  username: string;
  displayName: string;
  passwordHash: string;
  scopes: string[];
}

/** Storage of the embedded authorization server's users in the gateway schema. */
export interface UserStore {
  /** Stores a user; null when the user name is taken. */
  create(input: NewUser): Promise<UserRow | null>;
  /** A user by id or user name. */
  find(ref: string): Promise<UserRow | null>;
  list(pageSize: number, pageToken: string): Promise<{ rows: UserRow[]; nextPageToken: string }>;
  /**
   * Deletes a user and, in the same transaction, every grant, session and refresh token the
   * authorization server holds for them; the deleted row, or null when there was none.
   */
  delete(ref: string): Promise<UserRow | null>;
}

/** A UserStore over the gateway's MikroORM. */
export function createUserStore(orm: MikroORM): UserStore {
  const find = (ref: string) =>
    orm.em.fork().findOne(UserEntity, UUID.test(ref) ? { id: ref } : { username: ref });
  return {
    async create(input) {
      const em = orm.em.fork();
      const row = em.create(UserEntity, {
        id: crypto.randomUUID(),
        ...input,
        createTime: new Date(),
      });
      // The unique user name decides between two concurrent creates.
      const inserted = await em.execute<{ id: string }[]>(
        `insert into "gateway"."users" ("id", "username", "display_name", "password_hash", "scopes", "create_time")
         values (?, ?, ?, ?, ?::jsonb, ?) on conflict ("username") do nothing returning "id"`,
        [
          row.id,
          row.username,
          row.displayName,
          row.passwordHash,
          JSON.stringify(row.scopes),
          row.createTime,
        ],
      );
      return inserted.length === 1 ? row : null;
    },

    find,

    list(pageSize, pageToken) {
      return listNewestFirst(orm.em.fork(), UserEntity, {
        pageSize,
        pageToken,
        digest: LIST_DIGEST,
        idPattern: UUID,
      });
    },

    async delete(ref) {
      return orm.em.fork().transactional(async (tx) => {
        const row = await tx.findOne(UserEntity, UUID.test(ref) ? { id: ref } : { username: ref });
        if (!row) return null;
        await tx.execute(`delete from ${OAUTH_RECORDS_TABLE} where "account_id" = ?`, [row.id]);
        await tx.execute(`delete from "gateway"."users" where "id" = ?`, [row.id]);
        return row;
      });
    },
  };
}
