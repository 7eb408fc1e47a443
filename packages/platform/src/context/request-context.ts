import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/** What every log line and outgoing call of one request or event carries. */
export interface RequestContext {
  /** Correlation id: set at the edge (gateway or event), carried across gRPC and NATS. */
  readonly correlationId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs fn with the given correlation id (a new one when absent) as the current context. */
export function withCorrelationId<T>(correlationId: string | undefined, fn: () => T): T {
  return storage.run({ correlationId: correlationId || randomUUID() }, fn);
}

/** The correlation id of the request or event being handled, if any. */
export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** Metadata/header key that carries the correlation id across gRPC calls and NATS messages. */
export const CORRELATION_HEADER = "x-correlation-id";
