import { type ControlPlaneResult, MODE_LABELS } from "../control/control-plane-leg.js";
import { medianOf } from "../support/stats.js";
import { num, ratio, table } from "./format.js";
import { FAR_RATE, profileMarkdown } from "./mcp-section.js";
import type { Section } from "./section.js";

/** Section 2: the control plane. */
export function controlSection(result: ControlPlaneResult, repeats: number): Section {
  const direct = (call: string) =>
    result.rows.find((r) => r.call === call && r.mode === "grpc-direct");
  const findings: string[] = [];
  const rows = result.rows.map((row) => {
    const rate = medianOf(row.runs, (r) => r.requestsPerSecond);
    const p99 = medianOf(row.runs, (r) => r.p99);
    const base = direct(row.call);
    const baseRate = base ? medianOf(base.runs, (r) => r.requestsPerSecond) : Number.NaN;
    const baseP99 = base ? medianOf(base.runs, (r) => r.p99) : Number.NaN;
    const failures = row.runs.reduce((sum, r) => sum + r.failures, 0);
    if (row.mode !== "grpc-direct" && rate / baseRate < FAR_RATE) {
      findings.push(
        `${row.call}, ${MODE_LABELS[row.mode]}: ${num(rate, 0)} req/s, ${ratio(rate / baseRate)} of direct gRPC (${num(baseRate, 0)} req/s).`,
      );
    }
    return [
      row.call,
      MODE_LABELS[row.mode],
      num(rate, 0),
      num(
        medianOf(row.runs, (r) => r.p50),
        2,
      ),
      num(p99, 2),
      String(failures),
      row.mode === "grpc-direct" ? "1.00×" : ratio(rate / baseRate),
      row.mode === "grpc-direct" ? "1.00×" : ratio(p99 / baseP99),
    ];
  });
  const markdown = [
    "## 2. Control plane",
    "",
    `${result.connections} concurrent connections (autocannon) or in-flight calls (one gRPC client over one HTTP/2 connection), ${result.seconds} s per run after a warm-up run per call and mode, median of ${repeats} repeats. POST creates stopped url instances (validation, the row and the outbox event in one transaction; the runtime records each). The gateway's per-key rate limit is lifted for the bench (one key drives all the load). Load generators run in the bench process on the same cores as the mesh.`,
    "",
    table(
      ["call", "how", "req/s", "p50 ms", "p99 ms", "failures", "req/s vs direct", "p99 vs direct"],
      rows,
    ),
    "",
    "### Where the time goes (CPU profiles)",
    "",
    "Taken during one extra run each, after the measured ones.",
    "",
    ...result.profiles.flatMap((p) => [
      profileMarkdown(`${p.process}, during ${p.during}`, p.summary),
      "",
    ]),
  ].join("\n");
  return { markdown, findings };
}
