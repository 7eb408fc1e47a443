import type { LookupFunction } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@berth/platform";
import { type ProbedTool, probeMcp } from "../health/mcp-probe.js";
import type { HealthSpec } from "../spec/types.js";
import type { StateName } from "./workload-store.js";

/** Consecutive failed probes after which a workload is UNHEALTHY. */
export const UNHEALTHY_AFTER = 3;
/** Consecutive failed probes after which a restartable workload is replaced. */
export const RESTART_AFTER = 6;

/** Options of monitorHealth. */
export interface HealthMonitorOptions {
  url: string;
  headers: Record<string, string>;
  /** Resolves url-instance host names (createGuardedLookup). */
  lookup?: LookupFunction;
  /** A url upstream with delegated credentials: its 401 answer is healthy (probeMcp). */
  challengeIsHealthy?: boolean;
  health: HealthSpec;
  signal: AbortSignal;
  restartable: boolean;
  /** Hands an observation to the supervisor (which records it); never throws. */
  report(status: { state: StateName; message: string }): void;
  /** May fail (the store is away): logged, and tried again after the next successful probe. */
  saveTools(tools: ProbedTool[]): Promise<void>;
  logger: Logger;
  /** Called once when a restartable workload stays unhealthy. */
  unhealthy(reason: string): void;
}

/**
 * Probes an MCP endpoint until the signal aborts: quickly (25 ms doubling to 500 ms) until the first
 * success, then at the spec's interval. RUNNING after the first success; UNHEALTHY after
 * repeated failures (during start-up only once a grace period of 3 intervals, 10 s at least, has
 * passed); a restartable workload that keeps failing is handed back for a restart.
 */
export async function monitorHealth(options: HealthMonitorOptions): Promise<void> {
  const { health, signal } = options;
  const started = Date.now();
  const grace = Math.max(10_000, 3 * health.intervalMs);
  let failures = 0;
  let healthy = false;
  let lastTools = "";
  while (!signal.aborted) {
    const result = await probeMcp(options.url, options.headers, health.timeoutMs, {
      ...(options.lookup ? { lookup: options.lookup } : {}),
      challengeIsHealthy: options.challengeIsHealthy === true,
    });
    if (signal.aborted) return;
    if (result.ok) {
      failures = 0;
      healthy = true;
      const tools = JSON.stringify(result.tools);
      if (result.tools && tools !== lastTools) {
        try {
          await options.saveTools(result.tools);
          lastTools = tools;
        } catch (error) {
          options.logger.warn({ err: error }, "recording the tools failed; will retry");
        }
      }
      options.report({
        state: "RUNNING",
        message: result.tools
          ? `MCP server answered initialize and tools/list (${result.tools.length} tools)`
          : "MCP server answered and asks each user for their own credential (delegation)",
      });
    } else {
      failures += 1;
      const judged = healthy || Date.now() - started >= grace;
      if (judged && failures >= UNHEALTHY_AFTER) {
        options.report({
          state: "UNHEALTHY",
          message: `MCP health probe failing: ${result.error}`,
        });
        if (options.restartable && failures >= RESTART_AFTER) {
          options.unhealthy(`unhealthy: ${result.error}`);
          return;
        }
      }
    }
    // Until the first answer the probe is tried again soon (25 ms, doubling to 500 ms): a woken
    // server serves its first request the moment it can answer.
    const wait = healthy ? health.intervalMs : Math.min(health.intervalMs, 500, 25 * 2 ** failures);
    await sleep(wait, undefined, { signal }).catch(() => undefined);
  }
}
