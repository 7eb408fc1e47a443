import { Gauge, Histogram, type ServiceMetrics } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";

/**
 * The runtime's own metrics: `berth_runtime_reconcile_duration_seconds` (one pass of the
 * reconciler) and `berth_runtime_workloads{state}` (workloads by observed state, read from the
 * runtime's table when scraped; removed workloads' tombstones are not counted).
 */
export function registerRuntimeMetrics(
  metrics: ServiceMetrics,
  orm: MikroORM,
): { reconciled(seconds: number): void } {
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
  return { reconciled: (seconds) => reconcile.observe(seconds) };
}
