// npm run bench: Berth measured beside its floor and its peers in one run; writes
// bench/RESULTS.md (and the raw figures, logs and CPU profiles under bench/out/<run>/).
// Figures only: nothing here fails on a timing. Exit code 1 only when a leg could not run.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { controlPlaneLeg } from "./control/control-plane-leg.js";
import { eventPathLeg } from "./events/event-path-leg.js";
import { handoverLeg } from "./handover/handover-leg.js";
import { mcpPathLeg } from "./mcp/mcp-path-leg.js";
import { startBenchMesh } from "./mesh/bench-mesh.js";
import { berthApi } from "./mesh/berth-api.js";
import { type BenchEngines, startBenchEngines } from "./mesh/engines.js";
import { timeToReadyLeg } from "./ready/time-to-ready-leg.js";
import { type LegOutcome, runLeg } from "./report/leg-outcome.js";
import { collectVersions, describeMachine } from "./report/machine.js";
import { type BenchRun, resultsMarkdown } from "./report/results.js";
import { scaleLeg } from "./scale/scale-leg.js";
import { startupLeg } from "./startup/startup-leg.js";
import type { BenchContext } from "./support/context.js";
import { removeRunObjects } from "./support/docker-cleanup.js";
import { stopAll } from "./support/processes.js";
import { benchSettings } from "./support/settings.js";
import { wakeLeg } from "./wake/wake-leg.js";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const startedAt = new Date();
const runId = `${startedAt.toISOString().replace(/[:.]/g, "-")}-${randomBytes(2).toString("hex")}`;
const outDir = join(root, "bench", "out", runId);
const logDir = join(outDir, "logs");
const { settings, quick } = benchSettings();
const say = (line: string) => {
  const seconds = ((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${seconds} s] ${line}\n`);
};
const ctx: BenchContext = { root, outDir, logDir, runId, settings, say };

let tmp: string | undefined;
let engines: BenchEngines | undefined;
let cleaning: Promise<void> | undefined;

/** Stops every process, container and engine the bench started; runs once. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    await removeRunObjects(runId);
    await engines?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping everything the bench started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const skipped = <T>(why: string): LegOutcome<T> => ({ ok: false, error: why });
// BENCH_LEGS=startup,mcp,ready,wake,events,control,scale,handover (default: all) runs only the legs named; such a
// partial run writes its RESULTS.md beside its raw figures and leaves bench/RESULTS.md alone.
const LEGS = ["startup", "mcp", "ready", "wake", "events", "control", "scale", "handover"] as const;
const wanted = new Set((process.env.BENCH_LEGS ?? LEGS.join(",")).split(",").map((l) => l.trim()));
const partial = LEGS.some((leg) => !wanted.has(leg));
const leg = <T>(name: (typeof LEGS)[number], title: string, fn: () => Promise<T>) =>
  wanted.has(name) ? runLeg(title, say, fn) : Promise.resolve(skipped<T>("not run (BENCH_LEGS)"));

async function main(): Promise<number> {
  const loadBefore = loadavg();
  await mkdir(logDir, { recursive: true });
  say(`Berth bench${quick ? " (quick smoke run)" : ""}: logs and profiles in ${outDir}`);
  const [machine, versions] = await Promise.all([describeMachine(), collectVersions(root)]);
  tmp = await mkdtemp(join(tmpdir(), "berth-bench-"));
  await chmod(tmp, 0o755); // the postgres user (initdb refuses root) must enter it
  engines = await startBenchEngines(tmp, logDir);
  say("starting Berth: registry, instances, runtime, gateway (each its own process)");
  const mesh = await startBenchMesh({
    databaseUrl: engines.databaseUrl,
    natsUrl: engines.natsUrl,
    root,
    logDir,
    runId,
    services: ["registry", "instances", "runtime", "gateway"],
  });
  const api = berthApi(mesh);
  const natsUrl = engines.natsUrl;
  // First, while the mesh manages nothing: a second copy of each service starts beside it.
  const startup = await leg("startup", "6. start-up and idle memory", () => startupLeg(ctx, mesh));
  const mcp = await leg("mcp", "1. MCP tool-call path", () => mcpPathLeg(ctx, mesh, api));
  const ready = await leg("ready", "3. time to ready", () =>
    timeToReadyLeg(ctx, mesh, api, natsUrl),
  );
  const wake = await leg("wake", "7. wake-up from idle", () => wakeLeg(ctx, mesh, api, natsUrl));
  const events = await leg("events", "4. event path", () => eventPathLeg(ctx, mesh, api, natsUrl));
  const control = await leg("control", "2. control plane", () => controlPlaneLeg(ctx, mesh, api));
  await mesh.stop();
  await removeRunObjects(runId);
  const engineRef = engines;
  const scale = engineRef
    ? await leg("scale", "5. scale", () => scaleLeg(ctx, engineRef))
    : skipped<never>("no engines");
  const handover = engineRef
    ? await leg("handover", "8. runtime hand-over", () => handoverLeg(ctx, engineRef))
    : skipped<never>("no engines");

  const run: BenchRun = {
    startedAt,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    quick,
    settings,
    machine,
    load: { before: loadBefore, after: loadavg() },
    versions,
    mcp,
    control,
    ready,
    events,
    scale,
    startup,
    wake,
    handover,
  };
  await writeFile(join(outDir, "results.json"), JSON.stringify(run, null, 2));
  const results = partial ? join(outDir, "RESULTS.md") : join(root, "bench", "RESULTS.md");
  await writeFile(results, resultsMarkdown(run));
  say(`wrote ${results} (raw figures: ${join(outDir, "results.json")})`);
  const ran = { startup, mcp, control, ready, wake, events, scale, handover };
  return Object.entries(ran).every(([name, outcome]) => outcome.ok || !wanted.has(name)) ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  say(
    `the bench stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
} finally {
  await cleanUp();
}
process.exit(code);
