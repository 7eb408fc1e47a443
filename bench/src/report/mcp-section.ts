import { type McpPathResult, type TargetResult, targetMedians } from "../mcp/mcp-path-leg.js";
import type { ProfileSummary } from "../support/cpu-profile.js";
import type { BenchSettings } from "../support/settings.js";
import { num, ratio, table } from "./format.js";

// Thresholds of "far from the floor": stated in the results next to every verdict.
export const FAR_RATE = 0.5;
export const FAR_LATENCY = 2;

/** Section 1 as markdown, and the findings where Berth loses or is far from the floor. */
export function mcpSection(
  result: McpPathResult,
  settings: BenchSettings["mcp"],
): { markdown: string; findings: string[] } {
  const floor = result.targets.find((t) => t.key === "floor");
  const base = floor ? targetMedians(floor) : undefined;
  const rows = result.targets.map((t) => ({ t, m: targetMedians(t) }));
  const sequential = table(
    ["target", "calls", "p50 ms", "p99 ms", "calls/s", "p50 vs (a)", "calls/s vs (a)"],
    rows.map(({ t, m }) => [
      name(t),
      num(m.seqCount, 0),
      num(m.seqP50, 2),
      num(m.seqP99, 2),
      num(m.seqRate, 0),
      ratio(m.seqP50 / (base?.seqP50 ?? Number.NaN)),
      ratio(m.seqRate / (base?.seqRate ?? Number.NaN)),
    ]),
  );
  const concurrent = table(
    ["target", "calls", "calls/s", "p50 ms", "p99 ms", "calls/s vs (a)", "p99 vs (a)"],
    rows.map(({ t, m }) => [
      name(t),
      num(m.conCount, 0),
      num(m.conRate, 0),
      num(m.conP50, 2),
      num(m.conP99, 2),
      ratio(m.conRate / (base?.conRate ?? Number.NaN)),
      ratio(m.conP99 / (base?.conP99 ?? Number.NaN)),
    ]),
  );
  const findings = judge(rows, base);
  const profiles = result.profiles.map((p) => profileMarkdown(p.process, p.summary)).join("\n\n");
  const markdown = [
    "## 1. MCP tool-call path",
    "",
    `Echo tool calls with the official MCP SDK client (Client + StreamableHTTPClientTransport; the stdio reference uses StdioClientTransport). Sequential: one session, ${settings.warmupCalls} warm-up calls, then ${settings.sequentialCalls} measured or as many as fit in ${settings.sequentialSeconds} s ("calls" shows how many). Concurrent: ${settings.sessions} sessions calling at once in closed loops, 5 warm-up calls each, then ${settings.callsPerSession} each (${settings.sessions * settings.callsPerSession} calls) or as many as fit in ${settings.concurrentSeconds} s. Every figure is the median over ${settings.repeats} repeats, run round-robin over the targets. Ratios are to (a); "calls/s vs (a)" above 1× is faster than the floor, "p50 vs (a)" above 1× is slower.`,
    "",
    "Rows: (a) the floor; (b) Berth, through the gateway to an instance running as a container; (c) the npm peers wrapping the same server's stdio mode. Diagnostic rows measure Berth's parts alone (the runtime's stdio bridge reached with its own endpoint and token, the http container at its published port), a second gateway whose accepted sockets get TCP_NODELAY from a preload (bench/src/mesh/no-delay-preload.ts; Berth's code unchanged otherwise), and stdio with no HTTP at all.",
    "",
    "### Sequential calls",
    "",
    sequential,
    "",
    `### ${settings.sessions} concurrent sessions`,
    "",
    concurrent,
    "",
    "### Findings",
    "",
    ...(findings.length > 0
      ? findings.map((f) => `- ${f}`)
      : ["- Berth neither loses to a peer nor is far from the floor on these figures."]),
    "",
    "### Where the time goes (CPU profiles)",
    "",
    "The gateway and the runtime were profiled in-process (V8 sampling profiler, through `node:inspector`) during extra calls through row (b) stdio after the measurements; profiling never overlaps a measured run. Shares are of the samples in which the process was busy.",
    "",
    profiles,
  ].join("\n");
  return { markdown, findings };
}

function name(t: TargetResult): string {
  return t.berth ? `**${t.label}**` : t.label;
}

type Row = { t: TargetResult; m: ReturnType<typeof targetMedians> };

function judge(rows: Row[], base: ReturnType<typeof targetMedians> | undefined): string[] {
  const findings: string[] = [];
  const peers = rows.filter((r) => ["supergateway", "mcp-proxy"].includes(r.t.key));
  for (const { t, m } of rows.filter(
    (r) => r.t.key === "berth-stdio" || r.t.key === "berth-http",
  )) {
    const label = t.label.replace(/^\(b\) /, "");
    if (base) {
      const seq = m.seqRate / base.seqRate;
      const con = m.conRate / base.conRate;
      const p50 = m.seqP50 / base.seqP50;
      if (seq < FAR_RATE || p50 > FAR_LATENCY) {
        findings.push(
          `${label} is far from the floor on sequential calls: ${num(m.seqRate, 0)} calls/s (${ratio(seq)} of (a)), p50 ${num(m.seqP50, 2)} ms (${ratio(p50)}).`,
        );
      }
      if (con < FAR_RATE) {
        findings.push(
          `${label} is far from the floor with concurrent sessions: ${num(m.conRate, 0)} calls/s (${ratio(con)} of (a)).`,
        );
      }
    }
    for (const peer of peers) {
      if (m.seqRate < peer.m.seqRate) {
        findings.push(
          `${label} loses to ${peer.t.key} on sequential calls: ${num(m.seqRate, 0)} vs ${num(peer.m.seqRate, 0)} calls/s (p50 ${num(m.seqP50, 2)} vs ${num(peer.m.seqP50, 2)} ms).`,
        );
      }
      if (m.conRate < peer.m.conRate) {
        findings.push(
          `${label} loses to ${peer.t.key} with concurrent sessions: ${num(m.conRate, 0)} vs ${num(peer.m.conRate, 0)} calls/s (p99 ${num(m.conP99, 2)} vs ${num(peer.m.conP99, 2)} ms).`,
        );
      }
    }
  }
  return findings;
}

/** A profile's summary as two small tables. */
export function profileMarkdown(process: string, summary: ProfileSummary): string {
  return [
    `**${process}**: busy ${num(summary.busyPercent, 0)}% of ${num(summary.durationMs / 1000, 1)} s.`,
    "",
    table(
      ["area (self time)", "share"],
      summary.areas.slice(0, 8).map((a) => [a.name, `${num(a.percent, 1)}%`]),
    ),
    "",
    table(
      ["function (self time)", "share"],
      summary.topFrames.slice(0, 10).map((f) => [`\`${f.name.trim()}\``, `${num(f.percent, 1)}%`]),
    ),
  ].join("\n");
}
