import { randomBytes } from "node:crypto";
import { appendFile, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BERTH_NATS_SERVICES,
  type BerthNatsService,
  berthNatsUsers,
  findFreePort,
  type NatsHandle,
  type PostgresHandle,
  startNats,
  startPostgres,
} from "@berth/testkit";
import { buildServices } from "../../../scripts/start/build.js";
import { meshEnv, serviceMeshEnv } from "../../support/mesh.js";
import { type ServiceProcess, spawnService } from "../../support/service-process.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** The four services, in start order. */
export const SERVICES = ["registry", "instances", "runtime", "gateway"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The whole mesh as separate processes on engines of its own, which the test may stop. */
export interface ProcessMesh {
  gatewayUrl: string;
  adminKey: string;
  /** nats://admin:…@… : the test's own NATS user (may publish anything, e.g. a poison event). */
  natsAdminUrl: string;
  /** kill -9, and resolves once the process is gone. */
  kill(name: ServiceName): Promise<void>;
  /** Starts the service again with the same ports and configuration. */
  start(name: ServiceName): Promise<void>;
  stopNats(): Promise<void>;
  startNats(): Promise<void>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** Polls the gateway's /readyz (every service, NATS and Postgres answer) until 200. */
  waitReady(timeoutMs: number): Promise<number>;
  /** Services whose process exited although the test did not kill it, with their last output. */
  unexpectedExits(): string[];
  /** Where each service's whole output is (kept after stop(), for a failure's analysis). */
  logDir: string;
  stop(): Promise<void>;
}

/** Starts Postgres, NATS (with Berth's per-service users) and the four services as processes. */
export async function startProcessMesh(
  runId: string,
  /** Handed the mesh as soon as it exists, so a caller whose time runs out can still stop it. */
  started?: (mesh: ProcessMesh) => void,
): Promise<ProcessMesh> {
  const dir = join(tmpdir(), `berth-faults-${runId}`);
  const logDir = join(tmpdir(), `berth-faults-logs-${runId}`);
  await mkdir(logDir, { recursive: true });
  // The services run compiled, as `npm start` and the images run them: a restart under test is
  // a production restart, not a compile of the sources.
  await buildServices(root);
  const pgPassword = randomBytes(18).toString("base64url");
  const pgPort = await findFreePort();
  const natsPort = await findFreePort();
  const natsPasswords = Object.fromEntries(
    BERTH_NATS_SERVICES.map((s) => [s, randomBytes(18).toString("base64url")]),
  ) as Record<BerthNatsService, string>;
  const admin = { user: "admin", password: randomBytes(18).toString("base64url") };
  const natsUsers = berthNatsUsers(natsPasswords, admin);
  const natsOptions = { storeDir: join(dir, "nats"), port: natsPort, users: natsUsers };
  const pgOptions = { dataDir: join(dir, "postgres"), port: pgPort, password: pgPassword };

  let postgres: PostgresHandle | undefined = await startPostgres(pgOptions);
  let nats: NatsHandle | undefined = await startNats(natsOptions);
  const engines = {
    databaseUrl: postgres.url,
    natsUrl: `nats://${admin.user}:${admin.password}@127.0.0.1:${natsPort}`,
    natsServiceUrl: `nats://127.0.0.1:${natsPort}`,
    natsPasswords,
  };
  const ports = {
    registry: await findFreePort(),
    instances: await findFreePort(),
    runtime: await findFreePort(),
    gateway: await findFreePort(),
    bridge: await findFreePort(),
  };
  const common: Record<string, string> = {
    ...meshEnv(engines),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    REGISTRY_ADDR: `127.0.0.1:${ports.registry}`,
    INSTANCES_ADDR: `127.0.0.1:${ports.instances}`,
    RUNTIME_ADDR: `127.0.0.1:${ports.runtime}`,
  };
  // BERTH_FAULTS_DEBUG=runtime,instances: those services log at debug (where the seconds go).
  const debug = new Set((process.env.BERTH_FAULTS_DEBUG ?? "").split(","));
  const envOf = (name: ServiceName): Record<string, string> => ({
    ...common,
    ...(debug.has(name) ? { LOG_LEVEL: "debug" } : {}),
    ...serviceMeshEnv(name, engines),
    ...(name === "gateway"
      ? { HTTP_PORT: String(ports.gateway), MCP_RESOLVE_CACHE_MS: "2000" }
      : { GRPC_PORT: String(ports[name]) }),
    ...(name === "runtime"
      ? {
          BRIDGE_PORT: String(ports.bridge),
          BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
          RECONCILE_INTERVAL_MS: "2000",
          RESTART_BACKOFF_MS: "200",
          RESTART_BACKOFF_MAX_MS: "2000",
        }
      : {}),
  });
  const processes = new Map<ServiceName, ServiceProcess>();
  const killed = new Set<ServiceProcess>();
  const gatewayUrl = `http://127.0.0.1:${ports.gateway}`;

  let stopped = false;
  const start = async (name: ServiceName) => {
    if (stopped) throw new Error(`the mesh was stopped; ${name} is not started`);
    await appendFile(
      join(logDir, `${name}.log`),
      `${JSON.stringify({ level: "info", time: new Date().toISOString(), service: name, msg: "process spawned by the fault suite" })}\n`,
    );
    processes.set(
      name,
      spawnService(name, envOf(name), { compiled: true, logFile: join(logDir, `${name}.log`) }),
    );
  };
  const waitReady = async (timeoutMs: number): Promise<number> => {
    const began = Date.now();
    const deadline = began + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${gatewayUrl}/readyz`, {
          signal: AbortSignal.timeout(2_000),
        });
        await response.body?.cancel();
        if (response.ok) return Date.now() - began;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the mesh was not ready within ${timeoutMs} ms:\n${lastOutput()}`);
  };
  const lastOutput = () =>
    [...processes]
      .map(
        ([name, p]) => `--- ${name} (exit ${p.child.exitCode})\n${p.output().stderr.slice(-1_500)}`,
      )
      .join("\n");

  const mesh: ProcessMesh = {
    gatewayUrl,
    adminKey: common.BERTH_BOOTSTRAP_API_KEY!,
    natsAdminUrl: engines.natsUrl,
    logDir,
    async kill(name) {
      const p = processes.get(name);
      if (!p) return;
      killed.add(p);
      p.child.kill("SIGKILL");
      await p.exited;
    },
    start,
    async stopNats() {
      await nats?.stop();
      nats = undefined;
    },
    async startNats() {
      nats = await startNats(natsOptions);
    },
    async stopPostgres() {
      await postgres?.stop();
      postgres = undefined;
    },
    async startPostgres() {
      postgres = await startPostgres(pgOptions);
    },
    waitReady,
    unexpectedExits() {
      return [...processes]
        .filter(([, p]) => p.child.exitCode !== null || p.child.signalCode !== null)
        .filter(([, p]) => !killed.has(p))
        .map(([name, p]) => `${name}: ${p.output().stderr.slice(-2_000)}`);
    },
    async stop() {
      stopped = true; // a start still under way (a hook out of time) starts nothing more
      for (const name of [...SERVICES].reverse()) await processes.get(name)?.stop();
      await nats?.stop();
      nats = undefined;
      await postgres?.stop();
      postgres = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
  started?.(mesh);
  try {
    // The registry seeds the catalog and the others create their schemas; one at a time is
    // gentler on a small machine than all four compiling at once.
    for (const name of SERVICES) await start(name);
    await waitReady(480_000);
  } catch (error) {
    await mesh.stop();
    throw error;
  }
  return mesh;
}
