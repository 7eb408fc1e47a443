import { invalidArgument } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { ApiKeyEntity, type ApiKeyRow } from "./api-key-entity.js";
import { generateApiKey, hashSecret, parseApiKey } from "./key-format.js";

/** What a new key may do; the id and secret are generated. */
export interface NewApiKey {
  displayName: string;
  scopes: string[];
  instances: string[];
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  expireTime: Date | null;
  createdBy: string;
}

/** A page of keys, newest first. */
export interface ApiKeyPage {
  rows: ApiKeyRow[];
  nextPageToken: string;
}

/** Storage of API keys in the gateway schema. */
export interface ApiKeyStore {
  /** The database the store writes to (idempotent writes run their store in its transactions). */
  readonly orm: MikroORM;
  /** Stores a key and returns it with its whole value (the only time the value exists). */
  create(input: NewApiKey): Promise<{ row: ApiKeyRow; key: string }>;
  get(id: string): Promise<ApiKeyRow | null>;
  list(pageSize: number, pageToken: string): Promise<ApiKeyPage>;
  /** Marks a key revoked (keeps the first revoke time); null when there is no such key. */
  revoke(id: string): Promise<ApiKeyRow | null>;
  /**
   * When the table is empty, stores an admin key (the given value, or a fresh one) and returns
   * its value; otherwise undefined. Concurrent gateways create at most one.
   */
  bootstrap(presetKey: string | undefined): Promise<string | undefined>;
}

/** An ApiKeyStore over the gateway's MikroORM. */
export function createApiKeyStore(orm: MikroORM): ApiKeyStore {
  const rowOf = (id: string, secret: string, input: NewApiKey) => ({
    id,
    secretHash: hashSecret(secret),
    ...input,
    createTime: new Date(),
    revokeTime: null,
  });

  return {
    orm,

    async create(input) {
      const { id, secret, key } = generateApiKey();
      const em = orm.em.fork();
      const row = em.create(ApiKeyEntity, rowOf(id, secret, input));
      await em.persistAndFlush(row);
      return { row, key };
    },

    get: (id) => orm.em.fork().findOne(ApiKeyEntity, { id }),

    async list(pageSize, pageToken) {
      const after = decodeToken(pageToken);
      const where = after
        ? {
            $or: [
              { createTime: { $lt: after.time } },
              { createTime: after.time, id: { $lt: after.id } },
            ],
          }
        : {};
      const rows = await orm.em.fork().find(ApiKeyEntity, where, {
        orderBy: { createTime: "desc", id: "desc" },
        limit: pageSize + 1,
      });
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      const more = rows.length > pageSize && last;
      return { rows: page, nextPageToken: more ? encodeToken(last.createTime, last.id) : "" };
    },

    async revoke(id) {
      const em = orm.em.fork();
      const row = await em.findOne(ApiKeyEntity, { id });
      if (!row) return null;
      if (!row.revokeTime) {
        row.revokeTime = new Date();
        await em.flush();
      }
      return row;
    },

    async bootstrap(presetKey) {
      const parsed = presetKey ? parseApiKey(presetKey) : undefined;
      const fresh = parsed ? { ...parsed, key: presetKey! } : generateApiKey();
      const em = orm.em.fork();
      return em.transactional(async (tx) => {
        // Two gateways starting on an empty table must not both create a key.
        await tx.execute(`lock table "gateway"."api_keys" in exclusive mode`);
        if ((await tx.count(ApiKeyEntity, {})) > 0) return undefined;
        const input: NewApiKey = {
          displayName: "bootstrap admin",
          scopes: ["admin"],
          instances: [],
          rateLimitPerSecond: 0,
          rateLimitBurst: 0,
          expireTime: null,
          createdBy: "",
        };
        tx.persist(tx.create(ApiKeyEntity, rowOf(fresh.id, fresh.secret, input)));
        return fresh.key;
      });
    },
  };
}

function encodeToken(time: Date, id: string): string {
  return Buffer.from(`${time.toISOString()}|${id}`, "utf8").toString("base64url");
}

function decodeToken(token: string): { time: Date; id: string } | undefined {
  if (token === "") return undefined;
  const [iso, id] = Buffer.from(token, "base64url").toString("utf8").split("|");
  const time = new Date(iso ?? "");
  if (!id || Number.isNaN(time.getTime())) {
    throw invalidArgument([{ field: "page_token", description: "is not a token from this list" }]);
  }
  return { time, id };
}
