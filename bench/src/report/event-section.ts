import type { EventPathResult } from "../events/event-path-leg.js";
import { type LatencySummary, medianOf } from "../support/stats.js";
import { num, table } from "./format.js";
import { profileMarkdown } from "./mcp-section.js";
import type { Section } from "./section.js";

/** Section 4: the event path. */
export function eventSection(result: EventPathResult, warmup: number): Section {
  const m = (pick: (r: EventPathResult["runs"][number]) => number) => medianOf(result.runs, pick);
  const { burst } = result;
  const findings =
    burst.handledRate < 0.8 * burst.createRate
      ? [
          `The runtime applies instance events more slowly than the instances service produces them: ${num(burst.handledRate, 0)} vs ${num(burst.createRate, 0)} events/s in a burst; a backlog queues behind it (see the runtime's profile in section 4).`,
        ]
      : [];
  const stretch = (label: string, pick: (r: EventPathResult["runs"][number]) => LatencySummary) => [
    label,
    num(
      m((r) => pick(r).p50),
      2,
    ),
    num(
      m((r) => pick(r).p99),
      2,
    ),
    num(
      m((r) => pick(r).max),
      2,
    ),
  ];
  const markdown = [
    "## 4. Event path",
    "",
    `McpServerInstanceCreated from the instances service to the runtime's handler. Events come from creating stopped url instances over gRPC (the runtime only records the workload), at most 8 creates under way. Start: the envelope's occurred_at, stamped inside the producing transaction just before its commit (millisecond resolution). Published: when a core NATS subscriber in the bench saw it. Handler: when the runtime wrote its own "desired state applied" line (workload row written), timestamped in the runtime process.`,
    "",
    `**Throughput.** A burst of ${burst.events} events created as fast as the instances service answers (${num(burst.createRate, 0)} creates/s) was applied by the runtime at ${num(burst.handledRate, 0)} events/s (first create to last handled).`,
    "",
    `**Latency.** ${result.runs.map((r) => r.events).join(" + ")} events measured in ${result.runs.length} repeats (${warmup} warm-up events per repeat left out, ${result.runs.reduce((n, r) => n + r.failures, 0)} creates failed), paced at ${num(result.pacedRate, 1)} events/s (half the burst throughput, so the figures show the path rather than a queue; achieved ${num(
      m((r) => r.rate),
      1,
    )}/s). Medians over the repeats:`,
    "",
    table(
      ["stretch", "p50 ms", "p99 ms", "max ms"],
      [
        stretch("occurred_at → published (outbox relay)", (r) => r.relay),
        stretch("published → runtime handler (JetStream, inbox, row)", (r) => r.consume),
        stretch("**occurred_at → runtime handler**", (r) => r.endToEnd),
      ],
    ),
    ...(result.profile
      ? [
          "",
          "### Where the time goes (CPU profile)",
          "",
          profileMarkdown(`runtime, during ${result.profile.during}`, result.profile.summary),
        ]
      : []),
  ].join("\n");
  return { markdown, findings };
}
