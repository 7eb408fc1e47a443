import type { MikroORM } from "@mikro-orm/postgresql";
import type { Adapter, AdapterPayload } from "oidc-provider";

/** Where the authorization server's records live (one table, keyed by model and id). */
export const OAUTH_RECORDS_TABLE = `"gateway"."oauth_records"`;

/**
 * oidc-provider's storage (grants, sessions, authorization codes, refresh tokens, registered
 * clients, interactions) in the gateway's Postgres schema, so that every gateway replica serves
 * the same sign-ins and a restart keeps them. Each record is its payload as JSONB, with the
 * columns it is looked up by; expired records are never returned and are swept by `sweep`.
 */
export function createPostgresAdapter(orm: MikroORM): new (model: string) => Adapter {
  const run = (sql: string, params: unknown[]) =>
    orm.em.fork().execute<Record<string, unknown>[]>(sql, params);
  return class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      await run(
        `insert into ${OAUTH_RECORDS_TABLE}
           ("model", "id", "payload", "grant_id", "user_code", "uid", "account_id", "expires_at")
         values (?, ?, ?::jsonb, ?, ?, ?, ?, ?)
         on conflict ("model", "id") do update set
           "payload" = excluded."payload", "grant_id" = excluded."grant_id",
           "user_code" = excluded."user_code", "uid" = excluded."uid",
           "account_id" = excluded."account_id", "expires_at" = excluded."expires_at"`,
        [
          this.model,
          id,
          JSON.stringify(payload),
          payload.grantId ?? null,
          payload.userCode ?? null,
          payload.uid ?? null,
          payload.accountId ?? null,
          expiresAt,
        ],
      );
    }

    find(id: string) {
      return this.one(`"id" = ?`, id);
    }

    findByUserCode(userCode: string) {
      return this.one(`"user_code" = ?`, userCode);
    }

    findByUid(uid: string) {
      return this.one(`"uid" = ?`, uid);
    }

    async consume(id: string): Promise<void> {
      await run(
        `update ${OAUTH_RECORDS_TABLE}
            set "payload" = jsonb_set("payload", '{consumed}', to_jsonb(?::bigint))
          where "model" = ? and "id" = ?`,
        [Math.floor(Date.now() / 1000), this.model, id],
      );
    }

    async destroy(id: string): Promise<void> {
      await run(`delete from ${OAUTH_RECORDS_TABLE} where "model" = ? and "id" = ?`, [
        this.model,
        id,
      ]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await run(`delete from ${OAUTH_RECORDS_TABLE} where "grant_id" = ?`, [grantId]);
    }

    private async one(where: string, value: string): Promise<AdapterPayload | undefined> {
      const rows = await run(
        `select "payload" from ${OAUTH_RECORDS_TABLE}
          where "model" = ? and ${where} and ("expires_at" is null or "expires_at" > now())`,
        [this.model, value],
      );
      return rows[0]?.payload as AdapterPayload | undefined;
    }
  };
}

/** Deletes expired records; returns how many went. */
export async function sweepExpired(orm: MikroORM): Promise<number> {
  const rows = await orm.em
    .fork()
    .execute<{ id: string }[]>(
      `delete from ${OAUTH_RECORDS_TABLE} where "expires_at" < now() returning "id"`,
      [],
    );
  return rows.length;
}
