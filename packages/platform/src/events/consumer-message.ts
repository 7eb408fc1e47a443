import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { UUID_PATTERN } from "@berth/spec";
import type { Message } from "@bufbuild/protobuf";
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../logging/logger.js";
import { decodeEnvelope, unpackPayload } from "./envelope.js";

const UUID = UUID_PATTERN;

/** The envelope and payload of a message, or undefined after terminating an unreadable one. */
export function readMessage(
  msg: JsMsg,
  log: Logger,
  requireUuid: boolean,
): { envelope: EventEnvelope; payload: Message } | undefined {
  try {
    const envelope = decodeEnvelope(msg.data);
    const payload = unpackPayload(envelope);
    // The inbox keys on a uuid: another id could never be recorded, so it could never succeed.
    if (requireUuid && !UUID.test(envelope.eventId)) throw new Error("event_id is not a UUID");
    return { envelope, payload };
  } catch (error) {
    // Redelivery cannot fix bytes this build cannot read: give the message up now.
    log.error({ subject: msg.subject, seq: msg.seq, err: error }, "unreadable event; terminated");
    msg.term();
    return undefined;
  }
}

/** Retry policy of a consumer. */
export interface RetryPolicy {
  maxDeliver: number;
  /** First redelivery delay; doubles per delivery, up to 30 s. */
  retryDelayMs: number;
}

/** After a handler error: nak with a growing delay, or on the last delivery terminate and log. */
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
  if (fields.delivery >= policy.maxDeliver) {
    log.error(fields, "event handler failed for the last time; event given up");
    msg.term();
    return;
  }
  const delay = Math.min(30_000, policy.retryDelayMs * 2 ** (fields.delivery - 1));
  log.warn({ ...fields, retry_in_ms: delay }, "event handler failed; will retry");
  msg.nak(delay);
}
