import { defineEntity } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { quoteIdent } from "../db/quote-ident.js";

/** One event a consumer has applied, in the service's `inbox` table (key: event id + consumer). */
export const InboxEntry = defineEntity({
  name: "InboxEntry",
  tableName: "inbox",
  properties: (p) => ({
    eventId: p.uuid().primary(),
    consumer: p.string().primary(),
    eventType: p.string(),
    receivedAt: p.datetime().columnType("timestamptz"),
  }),
});

/**
 * Records that `consumer` applies `eventId`, inside the em's transaction. Returns false when the
 * event was already applied (a redelivery or a replay): the caller must then skip its effect.
 * A concurrent claim of the same event waits on the primary key until the other transaction ends.
 */
export async function claimInbox(
  em: EntityManager,
  eventId: string,
  consumer: string,
  eventType: string,
): Promise<boolean> {
  const schema = em.config.get("schema");
  const table = schema ? `${quoteIdent(schema)}.inbox` : "inbox";
  const result = await em.execute<{ affectedRows: number }>(
    `insert into ${table} (event_id, consumer, event_type, received_at) values (?, ?, ?, now()) on conflict do nothing`,
    [eventId, consumer, eventType],
    "run",
  );
  return result.affectedRows === 1;
}
