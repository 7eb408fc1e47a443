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
  const result = await em.execute<{ affectedRows: number }>(
    `insert into ${inboxTable(em)} (event_id, consumer, event_type, received_at) values (?, ?, ?, now()) on conflict do nothing`,
    [eventId, consumer, eventType],
    "run",
  );
  return result.affectedRows === 1;
}

const inboxTable = (em: EntityManager) => {
  const schema = em.config.get("schema");
  return schema ? `${quoteIdent(schema)}.inbox` : "inbox";
};

/**
 * claimInbox for several events in one statement: returns the ids of those claimed now (the
 * others were applied before, and their effects must be skipped).
 */
export async function claimInboxes(
  em: EntityManager,
  events: readonly { eventId: string; eventType: string }[],
  consumer: string,
): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const rows = await em.execute<{ event_id: string }[]>(
    `insert into ${inboxTable(em)} (event_id, consumer, event_type, received_at) values ${events
      .map(() => "(?, ?, ?, now())")
      .join(", ")} on conflict do nothing returning event_id`,
    events.flatMap((e) => [e.eventId, consumer, e.eventType]),
  );
  return new Set(rows.map((r) => r.event_id));
}
