/** Where an exchange failed: dialling, sending and awaiting the answer, or relaying it. */
export type ForwardPhase = "connect" | "request" | "response";

/** One failed attempt of an upstream exchange. */
export interface FailedAttempt {
  code: string;
  phase: ForwardPhase;
  /** Whether the socket had carried an earlier exchange (kept alive). */
  reused: boolean;
  /** 1 for the first attempt. */
  attempts: number;
}

/** Attempts of one exchange at most (the first and two retries). */
export const MAX_ATTEMPTS = 3;
const BASE_DELAY_MS = 100;
// The errors of a socket the upstream closed under a request it never read.
const CLOSED_UNDER_US = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
// Dialling failed: nothing was sent. A timeout is not among them: it already waited long.
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/**
 * How long to wait before sending a failed exchange again, or undefined when it must not be sent
 * again. Only exchanges the upstream cannot have processed are retried, whatever the method (a
 * tools/call included): a kept-alive socket the upstream closed as the request arrived (at once,
 * once), and a connection that could not be made (backing off 100 ms, then 300 ms, with jitter).
 * Anything that failed after the request went out on a live connection may have run upstream.
 */
export function upstreamRetryDelayMs(
  failed: FailedAttempt,
  random: () => number = Math.random,
): number | undefined {
  if (failed.attempts >= MAX_ATTEMPTS) return undefined;
  if (failed.phase === "request" && failed.reused && CLOSED_UNDER_US.has(failed.code)) {
    return failed.attempts === 1 ? 0 : undefined;
  }
  if (failed.phase === "connect" && NOT_CONNECTED.has(failed.code)) {
    const base = BASE_DELAY_MS * 3 ** (failed.attempts - 1);
    return Math.round(base * (0.75 + random() / 2));
  }
  return undefined;
}
