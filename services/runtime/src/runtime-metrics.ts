import { Counter, Gauge, Histogram, type ServiceMetrics } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";

/**
 * The runtime's own metrics: `berth_runtime_reconcile_duration_seconds` (one pass of the
 * reconciler) and `berth_runtime_workloads{state}` (workloads by observed state, read from the
 * runtime's table when scraped; removed workloads' tombstones are not counted); the idle policy's
 * `berth_runtime_idle_sleeps_total`, `berth_runtime_wakeups_total`,
 * `berth_runtime_wake_duration_seconds` (wake request until the server answered its probe) and
 * `berth_runtime_wake_timeouts_total` (requests that waited past their wake deadline).
 */
export function registerRuntimeMetrics(
  metrics: ServiceMetrics,
  orm: MikroORM,
): {
  reconciled(seconds: number): void;
  idle(event: { type: "slept" } | { type: "woke"; seconds: number }): void;
  wakeTimedOut(): void;
} {
  const registers = [metrics.registry];
  const sleeps = new Counter({
    name: "berth_runtime_idle_sleeps_total",
    help: "Workloads stopped by the idle policy.",
    registers,
  });
  const wakeups = new Counter({
    name: "berth_runtime_wakeups_total",
    help: "Idle workloads started again by an MCP request.",
    registers,
  });
  const wakeDuration = new Histogram({
    name: "berth_runtime_wake_duration_seconds",
    help: "From the wake request until the woken server answered its MCP probe.",
    buckets: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60],
    registers,
  });
  const wakeTimeouts = new Counter({
    name: "berth_runtime_wake_timeouts_total",
    help: "Wake requests answered UNAVAILABLE because the server did not answer in time.",
    registers,
  });
  const reconcile = new Histogram({
    name: "berth_runtime_reconcile_duration_seconds",
    help: "How long one reconciliation pass took.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
  new Gauge({
    name: "berth_runtime_workloads",
    help: "Workloads by observed state.",
    labelNames: ["state"],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      try {
        const rows = await orm.em
          .fork()
          .execute<{ state: string; count: string }[]>(
            `select "state", count(*) as "count" from "runtime"."workloads" where "state" <> 'REMOVED' group by "state"`,
          );
        for (const row of rows) this.set({ state: row.state }, Number(row.count));
      } catch {
        // The database is away: the gauge is left empty for this scrape.
      }
    },
  });
  return {
    reconciled: (seconds) => reconcile.observe(seconds),
    idle(event) {
      if (event.type === "slept") return sleeps.inc();
      wakeups.inc();
      wakeDuration.observe(event.seconds);
    },
    wakeTimedOut: () => wakeTimeouts.inc(),
  };
}
