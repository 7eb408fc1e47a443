import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor, type UnaryRequest } from "@connectrpc/connect";
import { requestIdField } from "./request-id.js";

/** How the SDK retries calls the gateway answered UNAVAILABLE (503). */
export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 turns retries off). */
  maxAttempts?: number;
  /** The first backoff's upper bound (default 250 ms); it doubles on every attempt. */
  baseDelayMs?: number;
  /** The largest wait between attempts, a server's Retry-After included (default 10 s). */
  maxDelayMs?: number;
  /** Called before each wait, e.g. to log it. */
  onRetry?(event: RetryEvent): void;
}

/** One retry about to happen. */
export interface RetryEvent {
  /** The method, e.g. berth.instances.v1.InstancesService/CreateInstance. */
  method: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  delayMs: number;
  error: ConnectError;
}

/** Whether an error says the call may be tried again: UNAVAILABLE, or no connection at all. */
export function isRetryable(error: ConnectError): boolean {
  // fetch rejects with a TypeError when it cannot connect; Connect reports that as UNKNOWN.
  return (
    error.code === Code.Unavailable ||
    (error.code === Code.Unknown && error.cause instanceof TypeError)
  );
}

/**
 * Whether doing a call twice is safe: a read (no side effects, or idempotent by declaration), or
 * a write that carries a request id, which the service answers from its first result.
 */
export function isSafeToRepeat(request: UnaryRequest): boolean {
  const level = request.method.idempotency;
  if (level === Idempotency.NO_SIDE_EFFECTS || level === Idempotency.IDEMPOTENT) {
    return true;
  }
  const field = requestIdField(request.method.input);
  return field !== undefined && Boolean((request.message as Record<string, unknown>)[field]);
}

/**
 * A Retry-After value in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3);
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // IMF-fixdate only (e.g. "Sun, 06 Nov 1994 08:49:37 GMT"): Date.parse takes far too much.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before the next attempt: what the server asked for in Retry-After when it did,
 * otherwise a "full jitter" exponential backoff (uniform in [0, base·2^(attempt-1)]), so that
 * clients which failed together do not come back together; never more than maxDelayMs.
 */
export function backoffDelay(
  attempt: number,
  options: { baseDelayMs: number; maxDelayMs: number; retryAfterMs?: number | undefined },
  random: () => number = Math.random,
): number {
  if (options.retryAfterMs !== undefined) return Math.min(options.retryAfterMs, options.maxDelayMs);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/**
 * Retries unary calls that failed UNAVAILABLE, when repeating them is safe (see isSafeToRepeat),
 * with bounded attempts and jittered exponential backoff, honouring Retry-After, within the
 * call's own deadline. When it gives up, the last error is thrown with the attempts it made.
 * Place it after requestIdInterceptor, so that every attempt carries the same request id.
 */
export function retryInterceptor(options: RetryOptions = {}): Interceptor {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const baseDelayMs = options.baseDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  return (next) => async (request) => {
    if (request.stream || maxAttempts === 1 || !isSafeToRepeat(request)) return next(request);
    const method = `${request.service.typeName}/${request.method.name}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(request);
      } catch (thrown) {
        const error = ConnectError.from(thrown);
        if (!isRetryable(error) || request.signal.aborted) throw thrown;
        if (attempt >= maxAttempts) throw gaveUp(error, attempt);
        const retryAfterMs = parseRetryAfter(error.metadata.get("retry-after"));
        const delayMs = backoffDelay(attempt, { baseDelayMs, maxDelayMs, retryAfterMs });
        options.onRetry?.({ method, attempt, delayMs, error });
        // The call's deadline or its caller's abort ends the waiting: the last error stands.
        if (!(await sleep(delayMs, request.signal))) throw gaveUp(error, attempt);
      }
    }
  };
}

/** The last error, saying how many attempts were made. */
function gaveUp(error: ConnectError, attempts: number): ConnectError {
  const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  return new ConnectError(
    `${error.rawMessage} (gave up after ${tries})`,
    error.code,
    error.metadata,
    // The details as received (field violations and the like): ConnectError reads both forms.
    error.details as ConstructorParameters<typeof ConnectError>[3],
    error.cause,
  );
}

/** Waits ms; false when the signal aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort);
  });
}
