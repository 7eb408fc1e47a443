import { join } from "node:path";
import { findFreePort, isPortListening } from "@berth/testkit/engines";
import {
  compiledMain,
  compiledServiceArgs,
  SERVICE_V8_FLAGS,
} from "../../../scripts/start/build.js";
import type { BenchMesh, ServiceName } from "../mesh/bench-mesh.js";
import type { BenchContext } from "../support/context.js";
import { residentBytes, spawnTracked } from "../support/processes.js";
import { median } from "../support/stats.js";

/** How a service was run: compiled JavaScript (npm start) or its TypeScript through tsx. */
export type StartMode = "compiled" | "tsx";

/** One service started in one mode, repeatedly. */
export interface StartupRow {
  service: ServiceName;
  mode: StartMode;
  /** Spawn until its port accepts a connection, per repeat (ms). */
  startMs: number[];
  /** Resident memory after settleMs with nothing to do, per repeat (bytes). */
  idleRss: number[];
}

/** Section 6 of the results. */
export interface StartupResult {
  settleMs: number;
  rows: StartupRow[];
}

const ORDER: readonly ServiceName[] = ["registry", "instances", "runtime", "gateway"];
const MODES: readonly StartMode[] = ["compiled", "tsx"];
const LISTEN_TIMEOUT_MS = 60_000;
const POLL_MS = 20;

/**
 * Each service's start-up time and idle resident memory, compiled (`node --conditions=berth-dist
 * services/<name>/dist/main.js`, as npm start runs it) against its sources through tsx (`node
 * --import tsx services/<name>/src/main.ts`). A second copy of the service starts beside the
 * bench mesh, on the same engines and peers with its own port, exactly as its main.ts starts it
 * (no bench IPC child): migrations already applied, so start-up is loading, connecting and
 * listening. Memory is VmRSS after settleMs of idling. Modes alternate within each repeat.
 */
export async function startupLeg(ctx: BenchContext, mesh: BenchMesh): Promise<StartupResult> {
  const { repeats, settleMs } = ctx.settings.startup;
  const rows: StartupRow[] = ORDER.flatMap((service) =>
    MODES.map((mode) => ({ service, mode, startMs: [], idleRss: [] })),
  );
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const row of rows) {
      ctx.say(`  repeat ${repeat + 1}/${repeats}: ${row.service} (${row.mode})`);
      const { startMs, rss } = await startOnce(ctx, mesh, row.service, row.mode, settleMs);
      row.startMs.push(startMs);
      row.idleRss.push(rss);
    }
  }
  return { settleMs, rows };
}

async function startOnce(
  ctx: BenchContext,
  mesh: BenchMesh,
  service: ServiceName,
  mode: StartMode,
  settleMs: number,
): Promise<{ startMs: number; rss: number }> {
  const port = await findFreePort();
  const env: Record<string, string> = {
    ...mesh.envOf(service),
    [service === "gateway" ? "HTTP_PORT" : "GRPC_PORT"]: String(port),
  };
  if (service === "runtime") env.BRIDGE_PORT = String(await findFreePort());
  const args =
    mode === "compiled"
      ? compiledServiceArgs(compiledMain(ctx.root, service))
      : [
          ...SERVICE_V8_FLAGS,
          "--import",
          "tsx",
          join(ctx.root, "services", service, "src", "main.ts"),
        ];
  const began = performance.now();
  const tracked = spawnTracked(`${service}-${mode}`, process.execPath, args, {
    cwd: ctx.root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
    logFile: join(ctx.logDir, `startup-${service}-${mode}.log`),
  });
  let exited = false;
  void tracked.exited.then(() => {
    exited = true;
  });
  try {
    const deadline = Date.now() + LISTEN_TIMEOUT_MS;
    while (!(await isPortListening(port, 200))) {
      if (exited) throw new Error(`${service} (${mode}) exited before it listened; see its log`);
      if (Date.now() > deadline) throw new Error(`${service} (${mode}) did not listen in time`);
      await new Promise((done) => setTimeout(done, POLL_MS));
    }
    const startMs = performance.now() - began;
    await new Promise((done) => setTimeout(done, settleMs));
    return { startMs, rss: await residentBytes(tracked.pid) };
  } finally {
    await tracked.stop();
  }
}

/** Median of a row's figures. */
export function startupMedians(row: StartupRow): { startMs: number; idleRss: number } {
  return { startMs: median(row.startMs), idleRss: median(row.idleRss) };
}
