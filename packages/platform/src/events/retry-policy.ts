import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { Code, ConnectError } from "@connectrpc/connect";
import type { JsMsg } from "@nats-io/jetstream";
import { isDatabaseUnavailable } from "../errors/dependency-unavailable.js";
import type { Logger } from "../logging/logger.js";

/** Retry policy of a consumer. */
export interface RetryPolicy {
  /** Failed deliveries (outages not counted) after which an event is given up. */
  maxDeliver: number;
  /** First redelivery delay after a handler error; doubles per failure, up to 30 s. */
  retryDelayMs: number;
  /**
   * Redelivery delay while a dependency is away (database, or a service answering UNAVAILABLE):
   * steady, not growing, so an event waits at most this long after the outage ends.
   */
  outageRetryMs: number;
}

/** The defaults of createEventConsumer. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxDeliver: 10,
  retryDelayMs: 500,
  outageRetryMs: 1_000,
};

const MAX_RETRY_DELAY_MS = 30_000;
// Events whose outage deliveries are remembered at once; beyond, the oldest is forgotten (it then
// counts its outage deliveries as failures: given up sooner, never lost, it is dead-lettered).
const MAX_TRACKED = 10_000;

/**
 * Whether a handler failed because something it depends on is away rather than because of the
 * event: the database unreachable, or another service answering UNAVAILABLE / DEADLINE_EXCEEDED.
 * Such failures say nothing about the event, so they neither grow its delay nor count towards
 * its dead-lettering.
 */
export function isDependencyOutage(error: unknown): boolean {
  if (isDatabaseUnavailable(error)) return true;
  return (
    error instanceof ConnectError &&
    (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded)
  );
}

/** What to do with an event whose handler failed. */
export type FailureVerdict =
  | { action: "retry"; delayMs: number; outage: boolean }
  | { action: "give-up"; failures: number };

/**
 * The retry decisions of one consumer. Outage deliveries are remembered per event (by stream
 * sequence) so that a long outage does not use up an event's deliveries: an event created while
 * Postgres was down for two minutes is applied when it comes back, not dead-lettered.
 */
export interface RetryTracker {
  /** The verdict for a failed delivery (`delivery` is JetStream's count, 1 for the first). */
  judge(seq: number, delivery: number, error: unknown): FailureVerdict;
  /** Forgets an event that was settled (applied or dead-lettered). */
  settled(seq: number): void;
}

/** Creates a RetryTracker for a policy (pure: no timers, no I/O). */
export function createRetryTracker(policy: RetryPolicy): RetryTracker {
  const outages = new Map<number, number>();
  return {
    judge(seq, delivery, error) {
      if (isDependencyOutage(error)) {
        const count = (outages.get(seq) ?? 0) + 1;
        outages.delete(seq); // re-inserted last: the Map's order is oldest first
        outages.set(seq, count);
        if (outages.size > MAX_TRACKED) outages.delete(outages.keys().next().value!);
        return { action: "retry", delayMs: policy.outageRetryMs, outage: true };
      }
      const failures = Math.max(1, delivery - (outages.get(seq) ?? 0));
      if (failures >= policy.maxDeliver) return { action: "give-up", failures };
      const delayMs = Math.min(MAX_RETRY_DELAY_MS, policy.retryDelayMs * 2 ** (failures - 1));
      return { action: "retry", delayMs, outage: false };
    },
    settled(seq) {
      outages.delete(seq);
    },
  };
}

/** After a handler error that is not given up: nak with the verdict's delay, and log. */
export function settleFailure(
  msg: JsMsg,
  envelope: EventEnvelope,
  error: unknown,
  log: Logger,
  verdict: { delayMs: number; outage: boolean },
): void {
  // Identifiers only: payload values may be secret or personal.
  const fields = {
    event_id: envelope.eventId,
    event_type: envelope.eventType,
    subject: msg.subject,
    delivery: msg.info.deliveryCount,
    retry_in_ms: verdict.delayMs,
  };
  if (verdict.outage) {
    // Once per event and outage, not once per second.
    const first = msg.info.deliveryCount === 1 || msg.info.deliveryCount % 30 === 0;
    log[first ? "warn" : "debug"](
      { ...fields, err: error },
      "event handler waits for a dependency; will retry",
    );
  } else {
    log.warn({ ...fields, err: error }, "event handler failed; will retry");
  }
  msg.nak(verdict.delayMs);
}
