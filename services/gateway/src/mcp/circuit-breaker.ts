/** The state of one upstream's circuit. */
export type CircuitState = "CLOSED" | "OPEN" | "HALF_OPEN";

/** What a breaker knows about one upstream: what the instance shows as `upstream`. */
export interface CircuitSnapshot {
  readonly state: CircuitState;
  /** Failed calls in a row (reset by a success). */
  readonly consecutiveFailures: number;
  /** When the circuit last opened (ms since the epoch), 0 when it never did since it closed. */
  readonly openedAt: number;
  /** The code of the last failure (ECONNREFUSED, HTTP_503, …), "" when none. */
  readonly lastErrorCode: string;
  /** When the state last changed (ms since the epoch). */
  readonly changedAt: number;
}

/** Options of createCircuitBreakers. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open a circuit. */
  failureThreshold: number;
  /** How long a circuit stays open before one probe call is let through. */
  openMs: number;
  /** Each failed probe doubles the open time, up to this. */
  maxOpenMs: number;
  /** A probe that has not finished after this long no longer blocks the next one. */
  probeTimeoutMs?: number;
  /** Called after every state change (CLOSED → OPEN → HALF_OPEN → CLOSED or OPEN). */
  onChange?: (key: string, snapshot: CircuitSnapshot) => void;
  /** Most upstreams remembered; the least recently used closed circuit is forgotten beyond. */
  maxKeys?: number;
  now?: () => number;
}

/** Whether a call may go upstream now. */
export type Admission =
  | { admitted: true; probe: boolean }
  | { admitted: false; retryAfterMs: number; snapshot: CircuitSnapshot };

/** One circuit breaker per upstream (keyed by instance id). */
export interface CircuitBreakers {
  /** Asks before dialling; an admitted call must be followed by succeeded or failed. */
  admit(key: string): Admission;
  succeeded(key: string): void;
  failed(key: string, code: string): void;
  snapshot(key: string): CircuitSnapshot;
  /** Starts an upstream afresh (its instance was re-pointed): CLOSED, reported if it was not. */
  reset(key: string): void;
}

interface Circuit {
  state: CircuitState;
  failures: number;
  openedAt: number;
  openFor: number;
  lastErrorCode: string;
  changedAt: number;
  /** When the probe in flight was let through (HALF_OPEN), 0 when none is. */
  probeSince: number;
}

/**
 * Circuit breakers in the classic three states. CLOSED: calls go through; `failureThreshold`
 * failures in a row open the circuit. OPEN: calls are refused without dialling (the caller
 * answers 503 with Retry-After = the time left); after `openMs` the next call is the probe
 * (HALF_OPEN) and the others are still refused. The probe's success closes the circuit; its
 * failure opens it again for twice as long (up to `maxOpenMs`). Pure: time comes from `now`.
 */
export function createCircuitBreakers(options: CircuitBreakerOptions): CircuitBreakers {
  const now = options.now ?? Date.now;
  const probeTimeoutMs = options.probeTimeoutMs ?? 10_000;
  const maxKeys = options.maxKeys ?? 10_000;
  const circuits = new Map<string, Circuit>();

  const snapshotOf = (c: Circuit): CircuitSnapshot => ({
    state: c.state,
    consecutiveFailures: c.failures,
    openedAt: c.openedAt,
    lastErrorCode: c.lastErrorCode,
    changedAt: c.changedAt,
  });
  const fresh = (): Circuit => ({
    state: "CLOSED",
    failures: 0,
    openedAt: 0,
    openFor: options.openMs,
    lastErrorCode: "",
    changedAt: now(),
    probeSince: 0,
  });
  const circuitOf = (key: string): Circuit => {
    let circuit = circuits.get(key);
    if (circuit) {
      circuits.delete(key); // re-inserted last: the Map's order is least recently used first
    } else {
      circuit = fresh();
      if (circuits.size >= maxKeys) evictOne();
    }
    circuits.set(key, circuit);
    return circuit;
  };
  const evictOne = () => {
    // An open circuit is worth keeping: forgetting it would send calls to a dead upstream.
    for (const [key, circuit] of circuits) {
      if (circuit.state === "CLOSED") return void circuits.delete(key);
    }
    circuits.delete(circuits.keys().next().value!);
  };
  const change = (key: string, c: Circuit, state: CircuitState) => {
    c.state = state;
    c.changedAt = now();
    options.onChange?.(key, snapshotOf(c));
  };
  const open = (key: string, c: Circuit, openFor: number) => {
    c.openedAt = now();
    c.openFor = openFor;
    c.probeSince = 0;
    change(key, c, "OPEN");
  };

  return {
    admit(key) {
      const c = circuitOf(key);
      if (c.state === "CLOSED") return { admitted: true, probe: false };
      const t = now();
      if (c.state === "OPEN") {
        const left = c.openedAt + c.openFor - t;
        if (left > 0) return { admitted: false, retryAfterMs: left, snapshot: snapshotOf(c) };
        c.probeSince = t;
        change(key, c, "HALF_OPEN");
        return { admitted: true, probe: true };
      }
      // HALF_OPEN: one probe at a time; a probe lost without an outcome is replaced.
      if (c.probeSince === 0 || t - c.probeSince >= probeTimeoutMs) {
        c.probeSince = t;
        return { admitted: true, probe: true };
      }
      const left = Math.max(1, c.probeSince + probeTimeoutMs - t);
      return { admitted: false, retryAfterMs: Math.min(left, 1_000), snapshot: snapshotOf(c) };
    },
    succeeded(key) {
      const c = circuits.get(key);
      if (!c) return;
      const wasBroken = c.failures > 0;
      c.failures = 0;
      if (c.state === "CLOSED") {
        if (wasBroken) c.changedAt = now();
        return;
      }
      c.openedAt = 0;
      c.openFor = options.openMs;
      c.probeSince = 0;
      change(key, c, "CLOSED");
    },
    failed(key, code) {
      const c = circuitOf(key);
      c.failures++;
      c.lastErrorCode = code;
      if (c.state === "HALF_OPEN") {
        open(key, c, Math.min(options.maxOpenMs, c.openFor * 2));
      } else if (c.state === "CLOSED" && c.failures >= options.failureThreshold) {
        open(key, c, options.openMs);
      }
    },
    snapshot(key) {
      const c = circuits.get(key);
      return c ? snapshotOf(c) : snapshotOf(fresh());
    },
    reset(key) {
      const c = circuits.get(key);
      circuits.delete(key);
      if (c && c.state !== "CLOSED") options.onChange?.(key, snapshotOf(fresh()));
    },
  };
}
