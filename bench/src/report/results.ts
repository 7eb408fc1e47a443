import { SERVICE_V8_FLAGS } from "../../../scripts/start/build.js";
import type { ControlPlaneResult } from "../control/control-plane-leg.js";
import type { EventPathResult } from "../events/event-path-leg.js";
import type { HandoverResult } from "../handover/handover-leg.js";
import type { McpPathResult } from "../mcp/mcp-path-leg.js";
import type { TimeToReadyResult } from "../ready/time-to-ready-leg.js";
import type { ScaleResult } from "../scale/scale-leg.js";
import type { StartupResult } from "../startup/startup-leg.js";
import type { BenchSettings } from "../support/settings.js";
import type { WakeResult } from "../wake/wake-leg.js";
import { controlSection } from "./control-section.js";
import { eventSection } from "./event-section.js";
import { num, table } from "./format.js";
import { handoverSection } from "./handover-section.js";
import type { LegOutcome } from "./leg-outcome.js";
import type { Machine, Version } from "./machine.js";
import { mcpSection } from "./mcp-section.js";
import { readySection } from "./ready-section.js";
import { scaleSection } from "./scale-section.js";
import type { Section } from "./section.js";
import { startupSection } from "./startup-section.js";
import { wakeSection } from "./wake-section.js";

/** Everything one run measured. */
export interface BenchRun {
  startedAt: Date;
  seconds: number;
  quick: boolean;
  settings: BenchSettings;
  machine: Machine;
  /** 1, 5 and 15 minute load averages when the run began and when it ended. */
  load: { before: number[]; after: number[] };
  versions: Version[];
  mcp: LegOutcome<McpPathResult>;
  control: LegOutcome<ControlPlaneResult>;
  ready: LegOutcome<TimeToReadyResult>;
  events: LegOutcome<EventPathResult>;
  scale: LegOutcome<ScaleResult>;
  startup: LegOutcome<StartupResult>;
  wake: LegOutcome<WakeResult>;
  handover: LegOutcome<HandoverResult>;
}

function section<T>(title: string, outcome: LegOutcome<T>, render: (value: T) => Section): Section {
  if (outcome.ok) return render(outcome.value);
  return {
    markdown: `## ${title}\n\nThis leg did not complete in this run: ${outcome.error}`,
    findings: [`${title} did not complete: ${outcome.error}`],
  };
}

/** The results file (bench/RESULTS.md) of a run. */
export function resultsMarkdown(run: BenchRun): string {
  const { machine, settings } = run;
  const sections = [
    section("1. MCP tool-call path", run.mcp, (v) => mcpSection(v, settings.mcp)),
    section("2. Control plane", run.control, (v) => controlSection(v, settings.control.repeats)),
    section("3. Time to ready", run.ready, readySection),
    section("4. Event path", run.events, (v) => eventSection(v, settings.events.warmup)),
    section("5. Scale", run.scale, scaleSection),
    section("6. Start-up and idle memory", run.startup, startupSection),
    section("7. Wake-up from idle", run.wake, wakeSection),
    section("8. Runtime hand-over", run.handover, handoverSection),
  ];
  const findings = sections.flatMap((s) => s.findings);
  return [
    "# Berth benchmarks",
    "",
    `Written by \`npm run bench\` on ${run.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC in ${num(run.seconds / 60, 1)} min.${run.quick ? " **Quick smoke run (BENCH_QUICK=1): too few samples to mean anything.**" : ""} Nothing here is a test: no figure fails a build. Every loop is bounded by a count or a duration, warm-up is left out, and each figure is a median over repeated runs taken in this one run, beside its baselines.`,
    "",
    "## Machine",
    "",
    table(
      ["", ""],
      [
        ["CPU", `${machine.cpu} (${machine.cores} cores)`],
        ["memory", `${num(machine.memoryGiB, 1)} GiB`],
        ["OS", machine.os],
        ["kernel", machine.kernel],
        ["Node.js", machine.node],
      ],
    ),
    "",
    `Load average (1, 5, 15 min): ${run.load.before.map((l) => num(l, 2)).join(", ")} when the run began, ${run.load.after.map((l) => num(l, 2)).join(", ")} when it ended.${(run.load.before[0] ?? 0) > machine.cores / 2 ? " **The machine was already busy when the run began: figures are noisier than on an idle machine.**" : ""}`,
    "",
    `Everything (the mesh, its engines, the peers and the load generators) shares these cores, as on a developer's machine; each Berth service is its own process, compiled, as \`npm start\` runs it (\`node ${SERVICE_V8_FLAGS.join(" ")} --conditions=berth-dist\`, JavaScript from \`dist/\`), LOG_LEVEL info.`,
    "",
    "## Versions",
    "",
    table(
      ["name", "version", "what"],
      run.versions.map((v) => [v.name, v.version, v.role]),
    ),
    "",
    "## Where Berth loses or is far from its floor",
    "",
    `"Far" means under ${num(0.5 * 100, 0)}% of the floor's throughput or over 2× its latency; "loses" means a peer does better on the same figure.`,
    "",
    ...(findings.length > 0 ? findings.map((f) => `- ${f}`) : ["- Nowhere, on these figures."]),
    "",
    ...sections.flatMap((s) => [s.markdown, ""]),
  ].join("\n");
}
