import { type Context, context, propagation } from "@opentelemetry/api";

/** A string map that W3C trace context can be written to and read from. */
export type HeaderCarrier = Record<string, string>;

/** Writes the active trace context (traceparent, tracestate) into a fresh carrier. */
export function injectTraceHeaders(from: Context = context.active()): HeaderCarrier {
  const carrier: HeaderCarrier = {};
  propagation.inject(from, carrier);
  return carrier;
}

/** Reads W3C trace context from a carrier into a context derived from the active one. */
export function extractTraceContext(carrier: HeaderCarrier): Context {
  return propagation.extract(context.active(), carrier);
}
