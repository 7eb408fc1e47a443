import { UUID_PATTERN } from "@berth/spec";
import {
  clone,
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { EntityManager, ForkOptions, MikroORM } from "@mikro-orm/postgresql";
import { quoteIdent } from "../db/quote-ident.js";
import { invalidArgument } from "../errors/errors.js";
import type { Logger } from "../logging/logger.js";
import { fingerprintRequest, REQUEST_ID_FIELD } from "./request-fingerprint.js";

const UUID = UUID_PATTERN;

/** How long a request id is remembered: AIP-155 suggests at least an hour; retries come sooner. */
export const REQUEST_ID_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Options of createIdempotentWrites. */
export interface IdempotentWritesOptions {
  orm: MikroORM;
  logger: Logger;
  /** How long a request id answers retries (default 24 h); older rows are pruned. */
  retentionMs?: number;
  /** Keys the request fingerprints (HMAC); required where requests carry secret values. */
  fingerprintKey?: Uint8Array;
}

/** One write that may carry a request id. */
export interface IdempotentCall<I extends DescMessage, O extends DescMessage> {
  method: DescMethodUnary<I, O>;
  request: MessageShape<I>;
  /**
   * Does the write. `orm` is the service's own, or with a request id one whose `em.fork()`
   * joins the transaction the request id is recorded in (nested transactions become savepoints),
   * so that the write and its request id commit together or not at all.
   */
  execute(orm: MikroORM): Promise<MessageInitShape<O>>;
  /** What a replay may see of the response (e.g. without a value shown only once). */
  remembered?(response: MessageShape<O>): MessageShape<O>;
}

/** What an idempotent write answered. */
export interface IdempotentResult<O extends DescMessage> {
  response: MessageShape<O>;
  /** True when this is a retry answered from the first call's record: nothing was written. */
  replayed: boolean;
}

/** Runs writes idempotently by request id (AIP-155), in one service's `request_ids` table. */
export interface IdempotentWrites {
  run<I extends DescMessage, O extends DescMessage>(
    call: IdempotentCall<I, O>,
  ): Promise<IdempotentResult<O>>;
}

/**
 * Idempotent writes. A call without a request id runs as it is. With one (a UUID, else
 * INVALID_ARGUMENT on `request_id`), the first call runs and its response is recorded in the same
 * transaction; a retry with the same id and the same request (same canonical fingerprint) gets
 * that response back without running again, even after a crash that followed the commit; the
 * same id with another request or method is INVALID_ARGUMENT on `request_id` (the id was reused
 * by mistake; retrying cannot help). Calls with the same id are serialised by an advisory lock,
 * so a retry racing the first call waits for it and then replays it. Failed calls record nothing.
 */
export function createIdempotentWrites(options: IdempotentWritesOptions): IdempotentWrites {
  const { orm, logger } = options;
  const retentionMs = options.retentionMs ?? REQUEST_ID_RETENTION_MS;
  const schema = orm.config.get("schema");
  const table = `${schema ? `${quoteIdent(schema)}.` : ""}${quoteIdent("request_ids")}`;
  let lastPrune = 0;

  const prune = () => {
    const now = Date.now();
    // At most once per tenth of the retention period (and not on every call).
    if (now - lastPrune < retentionMs / 10) return;
    lastPrune = now;
    orm.em
      .fork()
      .execute(`delete from ${table} where created_at < ?`, [new Date(now - retentionMs)], "run")
      .catch((error: unknown) => logger.warn({ err: error }, "pruning old request ids failed"));
  };

  return {
    async run<I extends DescMessage, O extends DescMessage>(
      call: IdempotentCall<I, O>,
    ): Promise<IdempotentResult<O>> {
      const { method, request } = call;
      const requestId = requestIdOf(method.input, request);
      if (requestId === "") {
        return { response: create(method.output, await call.execute(orm)), replayed: false };
      }
      if (!UUID.test(requestId)) {
        throw invalidArgument([
          {
            field: REQUEST_ID_FIELD,
            description: "must be a UUID such as 3f2c7e9a-4b1d-4c8e-9f60-0a1b2c3d4e5f",
          },
        ]);
      }
      const key = requestId.toLowerCase();
      const hash = fingerprintRequest(method.input, request, options.fingerprintKey);
      const methodName = `${method.parent.typeName}/${method.name}`;
      prune();
      return orm.em.fork().transactional(async (em): Promise<IdempotentResult<O>> => {
        await em.execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [
          `${table}:${key}`,
        ]);
        const rows = await em.execute<
          { method: string; request_hash: string; response: Buffer; created_at: Date }[]
        >(`select method, request_hash, response, created_at from ${table} where request_id = ?`, [
          key,
        ]);
        const seen = rows[0];
        if (seen && new Date(seen.created_at).getTime() > Date.now() - retentionMs) {
          if (seen.method !== methodName || seen.request_hash !== hash) {
            throw invalidArgument([
              {
                field: REQUEST_ID_FIELD,
                description: `was already used for a different request (${seen.method === methodName ? "other fields" : seen.method}); a new request needs a new request_id`,
              },
            ]);
          }
          return { response: fromBinary(method.output, seen.response), replayed: true };
        }
        if (seen) await em.execute(`delete from ${table} where request_id = ?`, [key], "run");
        const response = create(method.output, await call.execute(joinTransaction(orm, em)));
        const remembered = call.remembered
          ? call.remembered(clone(method.output, response))
          : response;
        await em.execute(
          `insert into ${table} (request_id, method, request_hash, response, created_at) values (?, ?, ?, ?, now())`,
          [key, methodName, hash, Buffer.from(toBinary(method.output, remembered))],
          "run",
        );
        return { response, replayed: false };
      });
    },
  };
}

/** The request id a request carries ("" when it has none or its type has no such field). */
export function requestIdOf<I extends DescMessage>(schema: I, request: MessageShape<I>): string {
  const field = schema.fields.find((f) => f.name === REQUEST_ID_FIELD);
  if (!field) return "";
  const value = (request as Record<string, unknown>)[field.localName];
  return typeof value === "string" ? value : "";
}

/**
 * The orm as seen from inside the transaction `tx`: `em.fork()` keeps tx's transaction, so code
 * written as `orm.em.fork().transactional(...)` runs in a savepoint of it rather than on a
 * connection of its own.
 */
function joinTransaction(orm: MikroORM, tx: EntityManager): MikroORM {
  const em = new Proxy(tx, {
    get(target, prop) {
      if (prop === "fork") {
        return (forkOptions?: ForkOptions) =>
          target.fork({ ...forkOptions, keepTransactionContext: true });
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return new Proxy(orm, {
    get(target, prop) {
      if (prop === "em") return em;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
