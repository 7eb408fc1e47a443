import { filterDigest } from "@berth/platform";
import { DEFAULT_TEAM } from "@berth/spec";
import type { MikroORM } from "@mikro-orm/postgresql";
import { listNewestFirst } from "../paging/newest-first.js";
import { ApiKeyEntity, type ApiKeyRow, type VirtualServerGrantSpec } from "./api-key-entity.js";
import { API_KEY_ID_PATTERN, generateApiKey, hashSecret, parseApiKey } from "./key-format.js";

const KEY_ID = API_KEY_ID_PATTERN;
const LIST_DIGEST = filterDigest({});

/** What a new key may do; the id and secret are generated. */
export interface NewApiKey {
  team: string;
  role: string;
  displayName: string;
  scopes: string[];
  instances: string[];
  virtualServers: VirtualServerGrantSpec[];
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
  /** Keys of `teams` (all when undefined), newest first. */
  list(pageSize: number, pageToken: string, teams?: readonly string[]): Promise<ApiKeyPage>;
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

    list(pageSize, pageToken, teams) {
      return listNewestFirst(orm.em.fork(), ApiKeyEntity, {
        pageSize,
        pageToken,
        digest: LIST_DIGEST,
        idPattern: KEY_ID,
        ...(teams ? { filter: { team: { $in: [...teams] } } } : {}),
      });
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
          team: DEFAULT_TEAM,
          role: "admin",
          displayName: "bootstrap admin",
          scopes: ["admin"],
          instances: [],
          virtualServers: [],
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
