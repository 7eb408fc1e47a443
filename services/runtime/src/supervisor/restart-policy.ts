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
