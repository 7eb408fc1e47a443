import { type McpPathResult, type TargetResult, targetMedians } from "../mcp/mcp-path-leg.js";
import type { ProfileSummary } from "../support/cpu-profile.js";
import type { BenchSettings } from "../support/settings.js";
import { num, ratio, table } from "./format.js";

// Thresholds of "far from the floor": stated in the results next to every verdict.
export const FAR_RATE = 0.5;
export const FAR_LATENCY = 2;

// The targets of issue 13, judged from the figures (each stated next to its verdict).
export const STDIO_VS_PEER = 1.5;
export const STDIO_P50_OVER_FLOOR_MS = 1;
export const HTTP_VS_FLOOR = 0.8;
export const HTTP_P50_OVER_FLOOR_MS = 0.5;

/** The rows compared with the http container's own port; every other row wraps stdio. */
const HTTP_ROWS = new Set(["floor-http", "berth-http"]);
const floorOf = (key: string) => (HTTP_ROWS.has(key) ? "floor-http" : "floor-stdio");

/** Section 1 as markdown, and the findings where Berth misses a target or is far from its floor. */
export function mcpSection(
  result: McpPathResult,
  settings: BenchSettings["mcp"],
): { markdown: string; findings: string[] } {
  const medians = new Map(result.targets.map((t) => [t.key, targetMedians(t)]));
  const rows = result.targets.map((t) => ({
    t,
    m: medians.get(t.key)!,
    f: medians.get(floorOf(t.key)),
  }));
  const sequential = table(
    ["target", "calls", "p50 ms", "p99 ms", "calls/s", "p50 vs floor", "calls/s vs floor"],
    rows.map(({ t, m, f }) => [
      name(t),
      num(m.seqCount, 0),
      num(m.seqP50, 2),
      num(m.seqP99, 2),
      num(m.seqRate, 0),
      ratio(m.seqP50 / (f?.seqP50 ?? Number.NaN)),
      ratio(m.seqRate / (f?.seqRate ?? Number.NaN)),
    ]),
  );
  const concurrent = table(
    ["target", "calls", "calls/s", "p50 ms", "p99 ms", "calls/s vs floor", "p99 vs floor"],
    rows.map(({ t, m, f }) => [
      name(t),
      num(m.conCount, 0),
      num(m.conRate, 0),
      num(m.conP50, 2),
      num(m.conP99, 2),
      ratio(m.conRate / (f?.conRate ?? Number.NaN)),
      ratio(m.conP99 / (f?.conP99 ?? Number.NaN)),
    ]),
  );
  const cpuRows = rows.filter(({ m }) => Number.isFinite(m.seqCpu) || Number.isFinite(m.conCpu));
  const cpu = table(
    [
      "target",
      "processes",
      "CPU ms per call, sequential",
      `CPU ms per call, ${settings.sessions} sessions`,
    ],
    cpuRows.map(({ t, m }) => [name(t), processesOf(t.key), num(m.seqCpu, 3), num(m.conCpu, 3)]),
  );
  const findings = judge(rows, medians);
  const profiles = result.profiles.map((p) => profileMarkdown(p.process, p.summary)).join("\n\n");
  const markdown = [
    "## 1. MCP tool-call path",
    "",
    `Echo tool calls with the official MCP SDK client (Client + StreamableHTTPClientTransport; the stdio floor uses StdioClientTransport). Sequential: one session, ${settings.warmupCalls} warm-up calls, then ${settings.sequentialCalls} measured or as many as fit in ${settings.sequentialSeconds} s ("calls" shows how many). Concurrent: ${settings.sessions} sessions calling at once in closed loops, 5 warm-up calls each, then ${settings.callsPerSession} each (${settings.sessions * settings.callsPerSession} calls) or as many as fit in ${settings.concurrentSeconds} s. Every figure is the median over ${settings.repeats} repeats, run round-robin over the targets.`,
    "",
    "Like with like: every row runs server-everything in the same hardened container Berth runs (berth/mcp-everything, the runtime's default limits and hardening). (a) floors: the SDK's stdio client on `docker run -i` of the stdio image, and the http container at its own published port; (b) Berth through the gateway; (c) the npm peers wrapping the same `docker run -i`. Ratios are to the row's floor: the http floor for the http rows, the stdio floor for all others (\"calls/s vs floor\" above 1× is faster than the floor, \"p50 vs floor\" above 1× is slower). Diagnostic rows measure Berth's parts alone (the runtime's stdio bridge reached with its own endpoint and token) and a second gateway started with MCP_BRIDGE_CHANNEL=false, which reaches the runtime's bridge with an HTTP request per exchange (the design before the gateway → runtime channel) instead of over the channel.",
    "",
    "### Sequential calls",
    "",
    sequential,
    "",
    `### ${settings.sessions} concurrent sessions`,
    "",
    concurrent,
    "",
    "### CPU per call",
    "",
    "User and system CPU time of the processes that serve a row (and their children, such as a peer's `docker run -i` client), read from /proc before and after the measured calls, divided by the calls: unlike latencies, it hardly depends on how many other tasks wait for the cores. dockerd and the container are left out (the same for every row).",
    "",
    cpuRows.length > 0 ? cpu : "No row measured its processes' CPU in this run.",
    "",
    ...virtualCost(medians),
    "### Findings",
    "",
    `Targets (issue 13): through the gateway to an stdio container, sequential calls/s ≥ ${STDIO_VS_PEER}× the best peer and p50 ≤ the stdio floor + ${STDIO_P50_OVER_FLOOR_MS} ms, and with ${settings.sessions} sessions ≥ ${STDIO_VS_PEER}× the best peer; to an http container, ≥ ${HTTP_VS_FLOOR}× the container's own calls/s and p50 ≤ its own + ${HTTP_P50_OVER_FLOOR_MS} ms.`,
    "",
    ...(findings.length > 0
      ? findings.map((f) => `- ${f}`)
      : ["- Berth meets every target on these figures."]),
    "",
    "### Where the time goes (CPU profiles)",
    "",
    "The gateway and the runtime were profiled in-process (V8 sampling profiler, through `node:inspector`) during extra calls through row (b) stdio after the measurements; profiling never overlaps a measured run. Shares are of the samples in which the process was busy.",
    "",
    profiles,
  ].join("\n");
  return { markdown, findings };
}

/** The cost of a virtual server: its row against the plain /mcp/{instance} row to the same stdio instance. */
function virtualCost(medians: Map<string, Medians>): string[] {
  const vs = medians.get("berth-virtual");
  const plain = medians.get("berth-stdio");
  if (!vs || !plain) return [];
  return [
    "### A virtual server against the plain instance path",
    "",
    `Through /mcp/v/{name} (one member, the same stdio instance) against /mcp/{instance}: sequential ${num(vs.seqRate, 0)} vs ${num(plain.seqRate, 0)} calls/s (${ratio(vs.seqRate / plain.seqRate)}), p50 ${num(vs.seqP50, 2)} vs ${num(plain.seqP50, 2)} ms (+${num(vs.seqP50 - plain.seqP50, 2)} ms); with concurrent sessions ${num(vs.conRate, 0)} vs ${num(plain.conRate, 0)} calls/s (${ratio(vs.conRate / plain.conRate)}).`,
    "",
  ];
}

function name(t: TargetResult): string {
  return t.berth ? `**${t.label}**` : t.label;
}

type Medians = ReturnType<typeof targetMedians>;
type Row = { t: TargetResult; m: Medians; f: Medians | undefined };

function judge(rows: Row[], medians: Map<string, Medians>): string[] {
  const findings: string[] = [];
  const peers = rows.filter((r) => ["supergateway", "mcp-proxy"].includes(r.t.key));
  const best = (rate: (m: Medians) => number) =>
    peers.reduce<Row | undefined>((a, r) => (a && rate(a.m) >= rate(r.m) ? a : r), undefined);
  const stdio = medians.get("berth-stdio");
  const stdioFloor = medians.get("floor-stdio");
  if (stdio) {
    const seqPeer = best((m) => m.seqRate);
    if (seqPeer && stdio.seqRate < STDIO_VS_PEER * seqPeer.m.seqRate) {
      findings.push(
        `Gateway → stdio container, sequential: ${num(stdio.seqRate, 0)} calls/s, ${ratio(stdio.seqRate / seqPeer.m.seqRate)} of the best peer (${seqPeer.t.key}, ${num(seqPeer.m.seqRate, 0)}); target ${STDIO_VS_PEER}×: missed.`,
      );
    }
    if (stdioFloor && stdio.seqP50 > stdioFloor.seqP50 + STDIO_P50_OVER_FLOOR_MS) {
      findings.push(
        `Gateway → stdio container, sequential p50 ${num(stdio.seqP50, 2)} ms vs the stdio floor's ${num(stdioFloor.seqP50, 2)} ms (+${num(stdio.seqP50 - stdioFloor.seqP50, 2)} ms); target +${STDIO_P50_OVER_FLOOR_MS} ms: missed.`,
      );
    }
    const conPeer = best((m) => m.conRate);
    if (conPeer && stdio.conRate < STDIO_VS_PEER * conPeer.m.conRate) {
      findings.push(
        `Gateway → stdio container, concurrent sessions: ${num(stdio.conRate, 0)} calls/s, ${ratio(stdio.conRate / conPeer.m.conRate)} of the best peer (${conPeer.t.key}, ${num(conPeer.m.conRate, 0)}); target ${STDIO_VS_PEER}×: missed.`,
      );
    }
  }
  const http = medians.get("berth-http");
  const httpFloor = medians.get("floor-http");
  if (http && httpFloor) {
    if (http.seqRate < HTTP_VS_FLOOR * httpFloor.seqRate) {
      findings.push(
        `Gateway → http container, sequential: ${num(http.seqRate, 0)} calls/s, ${ratio(http.seqRate / httpFloor.seqRate)} of the container's own port (${num(httpFloor.seqRate, 0)}); target ${HTTP_VS_FLOOR}×: missed.`,
      );
    }
    if (http.seqP50 > httpFloor.seqP50 + HTTP_P50_OVER_FLOOR_MS) {
      findings.push(
        `Gateway → http container, sequential p50 ${num(http.seqP50, 2)} ms vs the container's own ${num(httpFloor.seqP50, 2)} ms (+${num(http.seqP50 - httpFloor.seqP50, 2)} ms); target +${HTTP_P50_OVER_FLOOR_MS} ms: missed.`,
      );
    }
    if (http.conRate < HTTP_VS_FLOOR * httpFloor.conRate) {
      findings.push(
        `Gateway → http container, concurrent sessions: ${num(http.conRate, 0)} calls/s, ${ratio(http.conRate / httpFloor.conRate)} of the container's own port (${num(httpFloor.conRate, 0)}); target ${HTTP_VS_FLOOR}×: missed.`,
      );
    }
  }
  // Far from the floor (the old rule, kept for every Berth row): under FAR_RATE of its calls/s
  // or over FAR_LATENCY× its p50.
  for (const { t, m, f } of rows.filter(
    (r) => r.t.key === "berth-stdio" || r.t.key === "berth-http",
  )) {
    if (!f) continue;
    const label = t.label.replace(/^\(b\) /, "");
    if (m.seqRate / f.seqRate < FAR_RATE || m.seqP50 / f.seqP50 > FAR_LATENCY) {
      findings.push(
        `${label} is far from its floor on sequential calls: ${num(m.seqRate, 0)} calls/s (${ratio(m.seqRate / f.seqRate)}), p50 ${num(m.seqP50, 2)} ms (${ratio(m.seqP50 / f.seqP50)}).`,
      );
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

/** Which processes a row's CPU figure covers. */
function processesOf(key: string): string {
  if (key === "berth-stdio") return "gateway, runtime";
  if (key === "berth-http-hop") return "second gateway, runtime";
  if (key === "berth-http") return "gateway";
  if (key === "bridge") return "runtime";
  return `${key}, its docker run -i`;
}
