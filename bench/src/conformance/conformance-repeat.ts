// bench/conformance-repeat.sh: the full conformance suite N times (default 10) against the
// HTTP-container path through Berth (/mcp/{instance} → an instance of berth/mcp-conformance:http),
// after one baseline run against the fixture on loopback. Prints each run's pass count and the
// scenarios that regressed; exits 1 when any run regressed. Bounded: at most 50 runs, each
// killed after 150 s.

import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withoutCredentials } from "@berth/testkit";
import {
  type ConformanceMesh,
  ensureConformanceImages,
  startConformanceMesh,
} from "../../../test/conformance/support/conformance-mesh.js";
import {
  regressions,
  runConformance,
  scenarioLines,
} from "../../../test/conformance/support/conformance-run.js";
import {
  type FixtureProcess,
  startFixture,
} from "../../../test/conformance/support/fixture-process.js";
import { BENCH_NATS_PASSWORDS, type BenchEngines, startBenchEngines } from "../mesh/engines.js";
import { removeRunObjects } from "../support/docker-cleanup.js";

const MAX_RUNS = 50;
const runs = Number(process.env.CONFORMANCE_RUNS ?? "10");
if (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS) {
  console.error(
    `CONFORMANCE_RUNS must be an integer from 1 to ${MAX_RUNS}, got ${process.env.CONFORMANCE_RUNS}`,
  );
  process.exit(2);
}
const runId = `conformance-${randomBytes(3).toString("hex")}`;
const started = Date.now();
const say = (line: string) => {
  const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${seconds} s] ${line}\n`);
};

let dir: string | undefined;
let engines: BenchEngines | undefined;
let fixture: FixtureProcess | undefined;
let berth: ConformanceMesh | undefined;
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await berth?.stop().catch(() => undefined);
    await fixture?.stop().catch(() => undefined);
    await removeRunObjects(runId);
    await engines?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping everything this script started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let failedRuns = 0;
try {
  say("building the conformance images (when stale), starting Postgres, NATS and the fixture");
  await ensureConformanceImages();
  dir = await mkdtemp(join(tmpdir(), "berth-conformance-repeat-"));
  // Postgres runs as the postgres user when this runs as root: it must be able to enter.
  await chmod(dir, 0o755);
  engines = await startBenchEngines(dir, dir);
  fixture = await startFixture();
  const direct = await runConformance(fixture.url);
  say(`direct (fixture on loopback): ${direct.passed}/${direct.total}`);
  say("starting Berth and the http-container instance");
  // Services log in to NATS as themselves, with the bench's passwords.
  const meshEngines = {
    databaseUrl: engines.databaseUrl,
    natsUrl: engines.natsUrl,
    natsServiceUrl: withoutCredentials(engines.natsUrl),
    natsPasswords: BENCH_NATS_PASSWORDS,
  };
  berth = await startConformanceMesh(meshEngines, `berth.bench=${runId}`, fixture, [
    "http-container",
  ]);
  const url = berth.urlOf("http-container");
  for (let i = 1; i <= runs; i++) {
    const run = await runConformance(url, { authorization: berth.authorization });
    const regressed = regressions(direct, run);
    if (regressed.length > 0) failedRuns++;
    say(
      `run ${String(i).padStart(2)}/${runs} http-container through /mcp/{instance}: ` +
        `${run.passed}/${run.total}${regressed.length > 0 ? `  regressed: ${regressed.join(" | ")}` : ""}`,
    );
    if (run.passed !== run.total && process.env.CONFORMANCE_VERBOSE) {
      for (const line of scenarioLines(run)) say(`    ${line}`);
    }
  }
  say(
    `${runs - failedRuns}/${runs} runs with every directly passing scenario passing through Berth`,
  );
} catch (error) {
  say(`could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  failedRuns = -1;
} finally {
  await cleanUp();
}
process.exit(failedRuns === 0 ? 0 : 1);
