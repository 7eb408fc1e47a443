import type { MikroORM } from "@mikro-orm/postgresql";
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { quoteIdent } from "../db/quote-ident.js";
import type { Logger } from "../logging/logger.js";
import { failpoint } from "../service/failpoint.js";

/** Where and how one relay pass publishes. */
export interface OutboxBatchOptions {
  /** The service's schema, which holds the outbox table. */
  schema: string;
  batchSize: number;
  publishTimeoutMs: number;
  logger: Logger;
}

/** What one pass did: rows sent, whether the batch was full (more may wait), the publish error. */
export interface OutboxBatchResult {
  sent: number;
  full: boolean;
  error?: unknown;
}

interface OutboxRow {
  id: string;
  subject: string;
  payload: Buffer;
  headers: Record<string, string> | null;
}

// First key of the relay's advisory lock: one replica relays a schema at a time, so order is kept.
const RELAY_LOCK_CLASS = 0x6f757462;

/**
 * Publishes the oldest unsent rows in one transaction, in order, with Nats-Msg-Id = event id, and
 * marks them sent. Stops at the first failure so that no later event overtakes an earlier one.
 */
export async function publishOutboxBatch(
  orm: MikroORM,
  js: JetStreamClient,
  options: OutboxBatchOptions,
): Promise<OutboxBatchResult> {
  const table = `${quoteIdent(options.schema)}.outbox`;
  return orm.em.fork().transactional(async (em) => {
    const [lock] = await em.execute<{ locked: boolean }[]>(
      "select pg_try_advisory_xact_lock(?, hashtext(?)) as locked",
      [RELAY_LOCK_CLASS, options.schema],
    );
    if (!lock?.locked) return { sent: 0, full: false };
    const rows = await em.execute<OutboxRow[]>(
      `select id, subject, payload, headers from ${table} where sent_at is null order by seq limit ? for update skip locked`,
      [options.batchSize],
    );
    const sent: string[] = [];
    let error: unknown;
    for (const row of rows) {
      const headers = natsHeaders();
      for (const [key, value] of Object.entries(row.headers ?? {})) headers.set(key, value);
      try {
        // A duplicate ack (published before a crash, within the window) counts as sent.
        await js.publish(row.subject, row.payload, {
          msgID: row.id,
          headers,
          timeout: options.publishTimeoutMs,
        });
      } catch (publishError) {
        error = publishError;
        await em.execute(`update ${table} set attempts = attempts + 1 where id = ?`, [row.id]);
        options.logger.debug({ event_id: row.id, subject: row.subject }, "outbox publish failed");
        break;
      }
      failpoint("outbox.after-publish");
      sent.push(row.id);
    }
    if (sent.length > 0) {
      const marks = sent.map(() => "?").join(",");
      await em.execute(`update ${table} set sent_at = now() where id in (${marks})`, sent);
    }
    return { sent: sent.length, full: rows.length === options.batchSize, error };
  });
}

/** Deletes sent rows older than retentionMs. */
export async function pruneOutbox(
  orm: MikroORM,
  schema: string,
  retentionMs: number,
): Promise<void> {
  await orm.em
    .fork()
    .execute(
      `delete from ${quoteIdent(schema)}.outbox where sent_at < now() - make_interval(secs => ?)`,
      [retentionMs / 1000],
    );
}
