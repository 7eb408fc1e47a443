import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createServiceClient } from "@berth/platform";
import { RuntimeService, WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { createTestDatabase } from "@berth/testkit/engines";
import { startBenchMesh } from "../mesh/bench-mesh.js";
import { berthApi } from "../mesh/berth-api.js";
import type { BenchEngines } from "../mesh/engines.js";
import { type ServiceProcess, startServiceProcess } from "../mesh/service-process.js";
import type { BenchContext } from "../support/context.js";
import { waitUntil } from "../support/stats.js";

/** One kill of a runtime that owned workloads. */
export interface HandoverRun {
  /** Workloads the killed runtime owned. */
  orphans: number;
  /** SIGKILL → every orphan owned by the survivor (GetWorkload.owner). */
  ownedMs: number;
  /** SIGKILL → every orphan RUNNING again under the survivor (adopted and probed). */
  runningMs: number;
  /** Orphans whose container is the one they had before the kill (adopted, not replaced). */
  adopted: number;
}

/** Section 8 of the results. */
export interface HandoverResult {
  instances: number;
  leaseTtlMs: number;
  runs: HandoverRun[];
}

const STDIO_SERVER = "io.github.modelcontextprotocol/everything";
const LEASE_TTL_MS = 10_000; // the runtime's default (RUNTIME_LEASE_TTL_MS)
const WAIT_MS = 180_000;

/**
 * Runtime ownership hand-over: two runtime processes (each its own lease) share stdio instances
 * of one Docker engine; the one owning workloads is killed with SIGKILL and the time until the
 * survivor owns, then runs, every orphan is taken by polling GetWorkload every 100 ms. A new
 * runtime (a new name) then joins, and the next repeat kills the previous survivor, which by then
 * owns every workload. Lease at the production default.
 */
export async function handoverLeg(
  ctx: BenchContext,
  engines: BenchEngines,
): Promise<HandoverResult> {
  const { instances: count, repeats } = ctx.settings.handover;
  const database = await createTestDatabase(engines.adminUrl);
  const natsUrl = await engines.extraNats("nats-handover");
  const logDir = join(ctx.logDir, "handover");
  await mkdir(logDir, { recursive: true });
  const mesh = await startBenchMesh({
    databaseUrl: database.url,
    natsUrl,
    root: ctx.root,
    logDir,
    runId: ctx.runId,
    services: ["registry", "instances", "runtime"],
    env: { BERTH_RUNTIME_NAME: "bench-rt-0", RUNTIME_LEASE_TTL_MS: String(LEASE_TTL_MS) },
  });
  const extras: ServiceProcess[] = [];
  try {
    const api = berthApi(mesh);
    const client = (runtime: ServiceProcess) =>
      createServiceClient(RuntimeService, `127.0.0.1:${runtime.port}`, {
        identity: mesh.authority.identity("gateway"),
        defaultTimeoutMs: 10_000,
      });
    let joined = 0;
    const joinRuntime = async () => {
      joined += 1;
      const name = `bench-rt-${joined}`;
      const runtime = await startServiceProcess(
        "runtime",
        { ...mesh.envOf("runtime"), BERTH_RUNTIME_NAME: name },
        { cwd: ctx.root, logFile: join(logDir, `runtime-${joined}.log`) },
      );
      extras.push(runtime);
      return { name, process: runtime };
    };
    let victim = { name: "bench-rt-0", process: mesh.services.runtime! };
    let survivor = await joinRuntime();

    ctx.say(`  creating ${count} stdio instances over two runtimes`);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { instance } = await api.grpc.instances.createInstance({
        instance: { name: `handover-${i}`, serverId: STDIO_SERVER },
      });
      ids.push(instance!.id);
    }
    const workloads = async (via: ServiceProcess) =>
      Promise.all(
        ids.map((instanceId) =>
          client(via)
            .getWorkload({ instanceId })
            .then((r) => r.workload!),
        ),
      );
    await waitUntil(
      `${count} workloads RUNNING`,
      async () =>
        (await workloads(survivor.process)).every((w) => w.state === WorkloadState.RUNNING)
          ? true
          : undefined,
      WAIT_MS,
      500,
    );

    const runs: HandoverRun[] = [];
    for (let repeat = 1; repeat <= repeats; repeat++) {
      const before = await workloads(survivor.process);
      const orphans = before.filter((w) => w.owner === victim.name);
      const container = new Map(orphans.map((w) => [w.instanceId, w.containerId]));
      ctx.say(
        `  repeat ${repeat}/${repeats}: SIGKILL ${victim.name} (owns ${orphans.length}), ${survivor.name} survives`,
      );
      const killedAt = performance.now();
      process.kill(victim.process.pid, "SIGKILL");
      let ownedMs = 0;
      const after = await waitUntil(
        `${orphans.length} orphans RUNNING under ${survivor.name}`,
        async () => {
          const now = (await workloads(survivor.process)).filter((w) =>
            container.has(w.instanceId),
          );
          const owned = now.every((w) => w.owner === survivor.name);
          if (owned && ownedMs === 0) ownedMs = performance.now() - killedAt;
          return owned && now.every((w) => w.state === WorkloadState.RUNNING) ? now : undefined;
        },
        WAIT_MS,
        100,
      );
      const runningMs = performance.now() - killedAt;
      await victim.process.stop();
      runs.push({
        orphans: orphans.length,
        ownedMs,
        runningMs,
        adopted: after.filter((w) => w.containerId === container.get(w.instanceId)).length,
      });
      // A new runtime joins; the survivor (owning everything now) is the next one killed.
      victim = survivor;
      survivor = await joinRuntime();
    }
    return { instances: count, leaseTtlMs: LEASE_TTL_MS, runs };
  } finally {
    for (const extra of extras) await extra.stop();
    await mesh.stop();
    await database.drop().catch(() => undefined);
  }
}
