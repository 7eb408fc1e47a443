import { join } from "node:path";
import { DesiredState } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { createTestDatabase } from "@berth/testkit/engines";
import { startBenchMesh } from "../mesh/bench-mesh.js";
import { berthApi } from "../mesh/berth-api.js";
import type { BenchEngines } from "../mesh/engines.js";
import type { MemoryFigures } from "../mesh/protocol.js";
import type { BenchContext } from "../support/context.js";
import { cpuMs, residentBytes } from "../support/processes.js";
import { sleep, waitUntil } from "../support/stats.js";
import { startEchoServers } from "./echo-servers.js";

/** Section 5 of the results. */
export interface ScaleResult {
  instances: number;
  servers: number;
  /** Creating every instance over gRPC (16 at a time). */
  createMs: number;
  /** From the first create until the runtime reports every workload RUNNING. */
  convergeMs: number;
  /** Wall time of each reconcile() pass. */
  passMs: number[];
  /** Runtime CPU time in the 2 s after each pass began, less an idle 2 s window before it. */
  passCpuMs: number[];
  before: MemoryFigures & { vmRss: number };
  after: MemoryFigures & { vmRss: number };
}

const SETTLE_MS = 3_000;
const CPU_WINDOW_MS = 2_000;
const CREATE_CONCURRENCY = 16;
const CONVERGE_TIMEOUT_MS = 300_000;

/**
 * One runtime (its own process, database and NATS) managing `instances` url instances spread over
 * a few local MCP servers: memory before and after, the time to converge, reconcile passes.
 * The periodic pass is pushed out of the way (RECONCILE_INTERVAL_MS 10 min) so that only the
 * measured passes run; health probes keep their default (every 30 s).
 */
export async function scaleLeg(ctx: BenchContext, engines: BenchEngines): Promise<ScaleResult> {
  const { instances: count, servers: serverCount, passes } = ctx.settings.scale;
  const database = await createTestDatabase(engines.adminUrl);
  const natsUrl = await engines.extraNats("nats-scale");
  const servers = await startEchoServers(serverCount);
  const logDir = join(ctx.logDir, "scale");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(logDir, { recursive: true });
  const mesh = await startBenchMesh({
    databaseUrl: database.url,
    natsUrl,
    root: ctx.root,
    logDir,
    runId: ctx.runId,
    services: ["instances", "runtime"],
    env: { RECONCILE_INTERVAL_MS: "600000" },
  });
  try {
    const api = berthApi(mesh);
    const runtime = mesh.services.runtime!;
    const memory = async () => ({
      ...(await runtime.request<MemoryFigures>({ op: "memory" })),
      vmRss: await residentBytes(runtime.pid),
    });
    await sleep(SETTLE_MS);
    const before = await memory();

    ctx.say(`  creating ${count} url instances over ${serverCount} local MCP servers`);
    const began = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CREATE_CONCURRENCY }, async () => {
        for (let i = next++; i < count; i = next++) {
          await api.grpc.instances.createInstance({
            instance: {
              name: `scale-${i}`,
              desiredState: DesiredState.RUNNING,
              jsonSpec: { type: "url", endpoint: servers.urls[i % serverCount]! },
            },
          });
        }
      }),
    );
    const createMs = performance.now() - began;
    // How many were RUNNING by when: said as it goes, and in the error should it time out.
    const progress: string[] = [];
    let lastSaid = 0;
    try {
      await waitUntil(
        `${count} workloads RUNNING`,
        async () => {
          const running = await runningWorkloads(api);
          const at = performance.now() - began;
          if (at - lastSaid >= 10_000 || running >= count) {
            lastSaid = at;
            progress.push(`${running} at ${(at / 1000).toFixed(0)} s`);
            ctx.say(`    ${running}/${count} RUNNING at ${(at / 1000).toFixed(1)} s`);
          }
          return running >= count ? true : undefined;
        },
        CONVERGE_TIMEOUT_MS,
        500,
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; RUNNING by time since the first create: ${progress.join(", ")}`,
      );
    }
    const convergeMs = performance.now() - began;
    await sleep(SETTLE_MS);
    const after = await memory();

    const passMs: number[] = [];
    const passCpuMs: number[] = [];
    for (let pass = 1; pass <= passes; pass++) {
      ctx.say(`  reconcile pass ${pass}/${passes}`);
      const idle0 = await cpuMs(runtime.pid);
      await sleep(CPU_WINDOW_MS);
      const idle = (await cpuMs(runtime.pid)) - idle0;
      const cpu0 = await cpuMs(runtime.pid);
      const windowEnd = performance.now() + CPU_WINDOW_MS;
      passMs.push(await runtime.request<number>({ op: "reconcile" }, 120_000));
      await sleep(Math.max(0, windowEnd - performance.now()));
      passCpuMs.push((await cpuMs(runtime.pid)) - cpu0 - idle);
    }
    return {
      instances: count,
      servers: serverCount,
      createMs,
      convergeMs,
      passMs,
      passCpuMs,
      before,
      after,
    };
  } finally {
    await mesh.stop();
    await servers.close();
    await database.drop().catch(() => undefined);
  }
}

async function runningWorkloads(api: ReturnType<typeof berthApi>): Promise<number> {
  let running = 0;
  let pageToken = "";
  for (let page = 0; page < 100; page++) {
    const answer = await api.grpc.runtime.listWorkloads({ pageSize: 500, pageToken });
    running += answer.workloads.filter((w) => w.state === WorkloadState.RUNNING).length;
    pageToken = answer.nextPageToken;
    if (!pageToken) break;
  }
  return running;
}
