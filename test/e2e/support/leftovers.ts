import { connectAs } from "@berth/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import pg from "pg";

/** A database row that mentions an instance, and the table it sits in. */
export interface MentioningRow {
  table: string;
  row: Record<string, unknown>;
}

/** Every row of every table in the database whose text mentions needle (an instance id). */
export async function rowsMentioning(
  databaseUrl: string,
  needle: string,
): Promise<MentioningRow[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = await db.query<{ schema: string; name: string }>(
      `select table_schema as schema, table_name as name from information_schema.tables
       where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    const found: MentioningRow[] = [];
    for (const { schema, name } of tables.rows) {
      const table = `"${schema}"."${name}"`;
      const rows = await db.query(`select * from ${table} t where t::text like $1`, [
        `%${needle}%`,
      ]);
      for (const row of rows.rows) found.push({ table: `${schema}.${name}`, row });
    }
    return found;
  } finally {
    await db.end();
  }
}

/** Outbox rows (any schema) not yet relayed to JetStream. */
export async function unsentOutboxRows(databaseUrl: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const outboxes = await db.query<{ schema: string }>(
      `select table_schema as schema from information_schema.tables where table_name = 'outbox'`,
    );
    const unsent: string[] = [];
    for (const { schema } of outboxes.rows) {
      const rows = await db.query(
        `select event_type from "${schema}".outbox where sent_at is null`,
      );
      for (const row of rows.rows) unsent.push(`${schema}: ${row.event_type}`);
    }
    return unsent;
  } finally {
    await db.end();
  }
}

/** Durable consumers with messages not yet delivered or not yet acknowledged. */
export async function busyConsumers(natsUrl: string): Promise<string[]> {
  const nc = await connectAs(natsUrl);
  try {
    const jsm = await jetstreamManager(nc);
    const busy: string[] = [];
    let durables = 0;
    for await (const stream of jsm.streams.list()) {
      for await (const consumer of jsm.consumers.list(stream.config.name)) {
        if (!consumer.config.durable_name) continue;
        durables++;
        if (consumer.num_pending > 0 || consumer.num_ack_pending > 0) {
          busy.push(
            `${stream.config.name}/${consumer.name}: ${consumer.num_pending} pending, ${consumer.num_ack_pending} unacknowledged`,
          );
        }
      }
    }
    if (durables === 0) busy.push("no durable consumer at all: the services did not subscribe");
    return busy;
  } finally {
    await nc.close();
  }
}
