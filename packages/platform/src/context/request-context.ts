import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/** What every log line and outgoing call of one request or event carries. */
export interface RequestContext {
  /** Correlation id: set at the edge (gateway or event), carried across gRPC and NATS. */
  readonly correlationId: string;
  /**
   * The API key (its id) behind the request, once the gateway has authenticated it: carried to
   * the services with every call, and into the envelope of every event the request causes, so
   * that the audit trail names who made each change.
   */
  readonly actor?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs fn with the given correlation id (a new one when absent) as the current context. */
export function withCorrelationId<T>(correlationId: string | undefined, fn: () => T): T {
  return storage.run({ correlationId: correlationId || randomUUID() }, fn);
}

/** Runs fn with the current context plus the given actor (the caller's API key id). */
export function withActor<T>(actor: string | undefined, fn: () => T): T {
  if (!actor) return fn();
  const current = storage.getStore();
  return storage.run({ correlationId: current?.correlationId || randomUUID(), actor }, fn);
}

/** The correlation id of the request or event being handled, if any. */
export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** The API key id behind the request being handled, if any. */
export function currentActor(): string | undefined {
  return storage.getStore()?.actor;
}

/** Metadata/header key that carries the correlation id across gRPC calls and NATS messages. */
export const CORRELATION_HEADER = "x-correlation-id";

/**
 * Metadata key that carries the actor from the gateway to the services. Services keep it only on
 * calls from the gateway's mesh certificate (mayNameActor in mesh-policy.ts); the gateway sets it
 * from the key it authenticated and never passes a caller's own header on.
 */
export const ACTOR_HEADER = "x-berth-actor";

// Key ids are 16 hex digits; anything else in the header is ignored.
const ACTOR = /^[0-9a-f]{16}$/;

/** The actor named by a header value, when it is well-formed. */
export function actorOf(value: string | null | undefined): string | undefined {
  return value && ACTOR.test(value) ? value : undefined;
}
