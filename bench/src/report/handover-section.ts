import type { HandoverResult } from "../handover/handover-leg.js";
import { medianOf } from "../support/stats.js";
import { num, table } from "./format.js";
import type { Section } from "./section.js";

/** Section 8: runtime ownership hand-over. */
export function handoverSection(result: HandoverResult): Section {
  const owned = medianOf(result.runs, (r) => r.ownedMs);
  const running = medianOf(result.runs, (r) => r.runningMs);
  const notAdopted = result.runs.reduce((n, r) => n + (r.orphans - r.adopted), 0);
  const findings = [
    ...(notAdopted > 0
      ? [
          `Runtime hand-over: ${notAdopted} orphaned workloads got a new container instead of being adopted.`,
        ]
      : []),
  ];
  const markdown = [
    "## 8. Runtime hand-over",
    "",
    `${result.instances} stdio instances (\`berth/mcp-everything:stdio\`) on one Docker engine, owned by two runtime processes by lease (RUNTIME_LEASE_TTL_MS ${result.leaseTtlMs}, the default; renewed every third of it). The runtime owning workloads is killed with SIGKILL; the survivor's GetWorkload is polled every 100 ms until it names the survivor as owner of every orphan, then until every orphan is RUNNING again (adopted: re-attached and probed). A new runtime then joins and the survivor is the next one killed, owning every workload by then. The bound is the lease's ttl plus one beat (ttl/3) plus the adoption.`,
    "",
    table(
      ["repeat", "orphans", "kill → owned by the survivor", "kill → RUNNING again", "adopted"],
      result.runs.map((r, i) => [
        String(i + 1),
        String(r.orphans),
        `${num(r.ownedMs / 1000, 1)} s`,
        `${num(r.runningMs / 1000, 1)} s`,
        `${r.adopted}/${r.orphans}`,
      ]),
    ),
    "",
    `Median: owned again ${num(owned / 1000, 1)} s after the kill, RUNNING again ${num(running / 1000, 1)} s after it. A shorter RUNTIME_LEASE_TTL_MS shortens the first figure by as much, at the price of more heartbeats (one small UPDATE per runtime per ttl/3) and of a paused or slow runtime losing its workloads sooner.`,
  ].join("\n");
  return { markdown, findings };
}
