import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { defineEntity, type EntityManager } from "@mikro-orm/core";
import { CORRELATION_HEADER, currentCorrelationId } from "../context/request-context.js";
import { injectTraceHeaders } from "../tracing/propagation.js";
import { encodeEnvelope } from "./envelope.js";
import { subjectFor } from "./subjects.js";

/** One event waiting in the service's `outbox` table to be published (payload = encoded envelope). */
export const OutboxMessage = defineEntity({
  name: "OutboxMessage",
  tableName: "outbox",
  properties: (p) => ({
    id: p.uuid().primary(),
    subject: p.string(),
    eventType: p.string(),
    aggregateId: p.string(),
    payload: p.blob().columnType("bytea"),
    headers: p.json<Record<string, string>>().columnType("jsonb"),
    createdAt: p.datetime().columnType("timestamptz"),
    sentAt: p.datetime().columnType("timestamptz").nullable(),
    attempts: p.integer(),
  }),
});

/** Options of recordEvent. */
export interface RecordEventOptions {
  /** Overrides the subject of the event type's route (subjectFor). */
  subject?: string;
  /** Extra NATS headers to publish with the event. */
  headers?: Record<string, string>;
}

/**
 * Adds the event to the outbox inside the caller's unit of work, so it commits or rolls back with
 * the state change: `em.transactional(async (em) => { em.persist(x); recordEvent(em, envelope) })`.
 * Trace context and correlation id are captured now, while the request's context is active.
 */
export function recordEvent(
  em: EntityManager,
  envelope: EventEnvelope,
  options: RecordEventOptions = {},
): void {
  em.persist(em.create(OutboxMessage, outboxRow(envelope, options)));
}

/**
 * The outbox row of an event, for a write that inserts it itself (insertRows: the state row and
 * its event in one statement) rather than through a unit of work (recordEvent).
 */
export function outboxRow(envelope: EventEnvelope, options: RecordEventOptions = {}) {
  const correlationId = envelope.correlationId || currentCorrelationId();
  const headers: Record<string, string> = { ...options.headers, ...injectTraceHeaders() };
  if (correlationId) headers[CORRELATION_HEADER] = correlationId;
  return {
    id: envelope.eventId,
    subject: options.subject ?? subjectFor(envelope.eventType),
    eventType: envelope.eventType,
    aggregateId: envelope.aggregateId,
    payload: Buffer.from(encodeEnvelope(envelope)),
    headers,
    createdAt: new Date(),
    sentAt: null,
    attempts: 0,
  };
}
