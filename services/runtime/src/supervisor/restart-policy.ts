/** How crashed or unhealthy workloads are restarted. */
export interface RestartPolicy {
  baseMs: number;
  maxMs: number;
  /** Restarts before the workload is FAILED. */
  maxAttempts: number;
  /** A workload running this long since its last restart starts counting from zero again. */
  stableMs: number;
}

/** The delay before restart number `attempt` (1-based): doubling from baseMs, capped at maxMs. */
export function backoffDelay(policy: RestartPolicy, attempt: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Restart bookkeeping of one workload. */
export interface RestartCounter {
  /** Counts a restart; the delay before it, or undefined when the attempts are used up. */
  next(now: number): number | undefined;
  readonly count: number;
  reset(count?: number): void;
}

/** A counter over a policy; a restart long after the previous one starts a new series. */
export function createRestartCounter(policy: RestartPolicy): RestartCounter {
  let count = 0;
  let last = 0;
  return {
    next(now) {
      if (count > 0 && now - last > policy.stableMs) count = 0;
      count += 1;
      last = now;
      return count > policy.maxAttempts ? undefined : backoffDelay(policy, count);
    },
    get count() {
      return count;
    },
    reset(value = 0) {
      count = value;
      last = Date.now();
    },
  };
}
