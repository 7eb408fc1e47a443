import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { MsgHdrs } from "@nats-io/nats-core";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { CORRELATION_HEADER, withCorrelationId } from "../context/request-context.js";
import { extractTraceContext, type HeaderCarrier } from "../tracing/propagation.js";

/** The tracer of Berth's event publishing and processing. */
export const EVENTS_TRACER = "berth-events";

/** The NATS headers of a message as a string map (first value of each key). */
export function headerCarrier(headers: MsgHdrs | undefined): HeaderCarrier {
  const carrier: HeaderCarrier = {};
  if (!headers) return carrier;
  for (const key of headers.keys()) carrier[key.toLowerCase()] = headers.get(key);
  return carrier;
}

/**
 * Runs fn as the processing of one message: inside a CONSUMER span whose parent is the trace
 * context the producer recorded, and with the producer's correlation id as the current one.
 */
export function processInSpan<T>(
  msg: { subject: string; headers: MsgHdrs | undefined; redelivered: boolean },
  envelope: EventEnvelope,
  fn: () => Promise<T>,
): Promise<T> {
  const carrier = headerCarrier(msg.headers);
  const parent = extractTraceContext(carrier);
  const correlationId = carrier[CORRELATION_HEADER] || envelope.correlationId || undefined;
  const attributes = {
    "messaging.system": "nats",
    "messaging.operation.type": "process",
    "messaging.destination.name": msg.subject,
    "messaging.message.id": envelope.eventId,
    "berth.event.type": envelope.eventType,
    "berth.event.redelivered": msg.redelivered,
  };
  return withCorrelationId(correlationId, () =>
    trace
      .getTracer(EVENTS_TRACER)
      .startActiveSpan(
        `${msg.subject} process`,
        { kind: SpanKind.CONSUMER, attributes },
        parent,
        async (span) => {
          try {
            return await fn();
          } catch (error) {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        },
      ),
  );
}
