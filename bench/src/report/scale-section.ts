import type { ScaleResult } from "../scale/scale-leg.js";
import { median } from "../support/stats.js";
import { mib, num, table } from "./format.js";
import type { Section } from "./section.js";

/** Section 5: scale. */
export function scaleSection(result: ScaleResult): Section {
  const perInstance = (after: number, before: number) => (after - before) / result.instances / 1024;
  const markdown = [
    "## 5. Scale",
    "",
    `One runtime process (its own database and NATS, nothing else in its tables) managing ${result.instances} url instances spread over ${result.servers} local MCP servers (official SDK, stateless). Health probes at the default interval (30 s); the periodic reconcile is pushed to 10 min so that only the measured passes run. Memory after a full GC in the runtime, 3 s after it settled.`,
    "",
    table(
      ["figure", "value"],
      [
        [
          `create ${result.instances} instances (gRPC, 16 at a time)`,
          `${num(result.createMs / 1000, 1)} s`,
        ],
        [
          "from the first create until every workload is RUNNING",
          `${num(result.convergeMs / 1000, 1)} s`,
        ],
        [
          `reconcile pass, wall time (median of ${result.passMs.length}; max)`,
          `${num(median(result.passMs), 0)} ms; ${num(Math.max(...result.passMs), 0)} ms`,
        ],
        [
          "runtime CPU used by a pass (2 s window less an idle one, median)",
          `${num(median(result.passCpuMs), 0)} ms`,
        ],
        ["runtime RSS (VmRSS) with no instances", `${mib(result.before.vmRss)} MiB`],
        [`runtime RSS with ${result.instances} instances`, `${mib(result.after.vmRss)} MiB`],
        [
          "**RSS per managed instance**",
          `**${num(perInstance(result.after.vmRss, result.before.vmRss), 1)} KiB**`,
        ],
        [
          "JS heap per managed instance (heapUsed after GC)",
          `${num(perInstance(result.after.heapUsed, result.before.heapUsed), 1)} KiB`,
        ],
      ],
    ),
    "",
    "A pass lists the live workload rows, lists the run's Docker objects to collect garbage, and kicks every instance's supervisor; its wall time ends when the kicks are queued, the CPU figure includes the supervisors' work that follows.",
  ].join("\n");
  return { markdown, findings: [] };
}
