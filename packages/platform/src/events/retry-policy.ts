import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logging/logger.js";

/** Retry policy of a consumer. */
export interface RetryPolicy {
  maxDeliver: number;
  /** First redelivery delay; doubles per delivery, up to 30 s. */
  retryDelayMs: number;
}

/** After a handler error (not the last delivery): nak with a growing delay, and log. */
export function settleFailure(
  msg: JsMsg,
  envelope: EventEnvelope,
  error: unknown,
  log: Logger,
  policy: RetryPolicy,
): void {
  // Identifiers only: payload values may be secret or personal.
  const fields = {
    event_id: envelope.eventId,
    event_type: envelope.eventType,
    subject: msg.subject,
    delivery: msg.info.deliveryCount,
    err: error,
  };
  const delay = Math.min(30_000, policy.retryDelayMs * 2 ** (fields.delivery - 1));
  log.warn({ ...fields, retry_in_ms: delay }, "event handler failed; will retry");
  msg.nak(delay);
}
