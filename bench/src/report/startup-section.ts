import { SERVICE_V8_FLAGS } from "../../../scripts/start/build.js";
import { type StartupResult, startupMedians } from "../startup/startup-leg.js";
import { mib, num, ratio, table } from "./format.js";
import type { Section } from "./section.js";

/** Issue 14's bound on a compiled service's resident memory after start with nothing to do. */
const IDLE_RSS_LIMIT = 80 * 1024 ** 2;

/** Section 6: each service's start-up time and idle memory, compiled against tsx. */
export function startupSection(result: StartupResult): Section {
  const services = [...new Set(result.rows.map((row) => row.service))];
  const findings: string[] = [];
  const rows = services.map((service) => {
    const of = (mode: string) => {
      const row = result.rows.find((r) => r.service === service && r.mode === mode);
      return row ? startupMedians(row) : { startMs: Number.NaN, idleRss: Number.NaN };
    };
    const compiled = of("compiled");
    const tsx = of("tsx");
    if (compiled.idleRss > IDLE_RSS_LIMIT) {
      findings.push(
        `${service}, compiled, holds ${mib(compiled.idleRss)} MiB resident with nothing to do (issue 14 asks ≤ 80 MiB).`,
      );
    }
    return [
      service,
      num(compiled.startMs, 0),
      num(tsx.startMs, 0),
      ratio(compiled.startMs / tsx.startMs),
      mib(compiled.idleRss),
      mib(tsx.idleRss),
      ratio(compiled.idleRss / tsx.idleRss),
    ];
  });
  const repeats = result.rows[0]?.startMs.length ?? 0;
  const markdown = [
    "## 6. Start-up and idle memory",
    "",
    `Each service started alone beside the bench mesh (same engines and peers, its own port), exactly as its main.ts starts it: compiled (\`node ${SERVICE_V8_FLAGS.join(" ")} --conditions=berth-dist services/<name>/dist/main.js\`, as \`npm start\` runs it) and from its sources through tsx (\`node ${SERVICE_V8_FLAGS.join(" ")} --import tsx services/<name>/src/main.ts\`); both with the V8 settings of every service process (SERVICE_V8_FLAGS in scripts/start/build.ts). Start-up is spawn until its port accepts a connection (schema already migrated); memory is VmRSS after ${num(result.settleMs / 1000, 0)} s with nothing to do. Median of ${repeats} ${repeats === 1 ? "start" : "starts"} per mode, modes alternating.`,
    "",
    table(
      [
        "service",
        "start compiled ms",
        "start tsx ms",
        "compiled vs tsx",
        "RSS compiled MiB",
        "RSS tsx MiB",
        "compiled vs tsx",
      ],
      rows,
    ),
  ].join("\n");
  return { markdown, findings };
}
