import { randomBytes } from "node:crypto";
import { appendFile, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BalancedPort,
  BERTH_NATS_SERVICES,
  type BerthNatsService,
  berthNatsUsers,
  findFreePort,
  type HaproxyHandle,
  type NatsClusterHandle,
  type NatsHandle,
  type PostgresHandle,
  startHaproxy,
  startNats,
  startNatsCluster,
  startPostgres,
} from "@berth/testkit";
import { buildServices } from "../../../scripts/start/build.js";
import { meshEnv, serviceMeshEnv } from "../../support/mesh.js";
import { type ServiceProcess, spawnService } from "../../support/service-process.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** The four services, in start order. */
export const SERVICES = ["registry", "instances", "runtime", "gateway"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The shape of the mesh: one process of each on one NATS server, or the scaled-out topology. */
export interface ProcessMeshOptions {
  /** Processes of every service (1 by default). */
  replicas?: number;
  /** NATS servers: 1 (default), or 3 for a JetStream cluster with every stream on all three. */
  natsNodes?: 1 | 3;
  /**
   * HAProxy in front of every service (default: when replicas > 1): gatewayUrl is its public
   * port, and the services call each other through its internal ports.
   */
  loadBalancer?: boolean;
  /** Extra variables for every service. */
  env?: Record<string, string>;
  /** Handed the mesh as soon as it exists, so a caller whose time runs out can still stop it. */
  started?: (mesh: ProcessMesh) => void;
}

/** The whole mesh as separate processes on engines of its own, which the test may stop. */
export interface ProcessMesh {
  /** Where clients go: the load balancer when there is one, else the gateway. */
  gatewayUrl: string;
  /** Each gateway replica directly (bypassing the load balancer), by replica index. */
  gatewayUrls: string[];
  adminKey: string;
  /** nats://admin:…@… : the test's own NATS user (may publish anything, e.g. a poison event). */
  natsAdminUrl: string;
  /** The PID of each running process by label (registry-1, …, nats-2, haproxy). */
  pids(): Record<string, number>;
  /** kill -9 of one replica (0 by default), and resolves once the process is gone. */
  kill(name: ServiceName, replica?: number): Promise<void>;
  /** Starts the replica again with the same ports and configuration. */
  start(name: ServiceName, replica?: number): Promise<void>;
  /** Stops NATS (every node). */
  stopNats(): Promise<void>;
  startNats(): Promise<void>;
  /** kill -9 of one node of the NATS cluster. */
  killNatsNode(node: number): Promise<void>;
  /** Starts the node again: it rejoins the cluster and catches up. */
  startNatsNode(node: number): Promise<void>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /**
   * Polls /readyz (every service, NATS and Postgres answer) until 200: on every gateway replica
   * and, when there is one, through the load balancer.
   */
  waitReady(timeoutMs: number): Promise<number>;
  /** Services whose process exited although the test did not kill it, with their last output. */
  unexpectedExits(): string[];
  /** Where each service's whole output is (kept after stop(), for a failure's analysis). */
  logDir: string;
  stop(): Promise<void>;
}

/**
 * Starts Postgres, NATS (with Berth's per-service users; one server or a three-node cluster),
 * the services as processes (one or several replicas each) and, for replicas, HAProxy in front.
 */
export async function startProcessMesh(
  runId: string,
  options: ProcessMeshOptions = {},
): Promise<ProcessMesh> {
  const replicas = options.replicas ?? 1;
  const balanced = options.loadBalancer ?? replicas > 1;
  const dir = join(tmpdir(), `berth-faults-${runId}`);
  const logDir = join(tmpdir(), `berth-faults-logs-${runId}`);
  await mkdir(logDir, { recursive: true });
  await mkdir(dir, { recursive: true });
  // The services run compiled, as `npm start` and the images run them: a restart under test is
  // a production restart, not a compile of the sources.
  await buildServices(root);
  const pgPassword = randomBytes(18).toString("base64url");
  const pgPort = await findFreePort();
  const natsPasswords = Object.fromEntries(
    BERTH_NATS_SERVICES.map((s) => [s, randomBytes(18).toString("base64url")]),
  ) as Record<BerthNatsService, string>;
  const admin = { user: "admin", password: randomBytes(18).toString("base64url") };
  const natsUsers = berthNatsUsers(natsPasswords, admin);
  const pgOptions = { dataDir: join(dir, "postgres"), port: pgPort, password: pgPassword };

  let postgres: PostgresHandle | undefined;
  let nats: NatsHandle | undefined;
  let cluster: NatsClusterHandle | undefined;
  let haproxy: HaproxyHandle | undefined;
  const natsPort = await findFreePort();
  const natsOptions = { storeDir: join(dir, "nats"), port: natsPort, users: natsUsers };
  const startEngines = async () => {
    postgres = await startPostgres(pgOptions);
    if (options.natsNodes === 3) {
      cluster = await startNatsCluster({
        storeDir: join(dir, "nats"),
        users: natsUsers,
        logDir,
      });
    } else nats = await startNats(natsOptions);
  };
  await startEngines();
  const natsServiceUrl = cluster?.url ?? `nats://127.0.0.1:${natsPort}`;
  const firstNats = natsServiceUrl.split(",")[0]!.replace("nats://", "");
  const engines = {
    databaseUrl: postgres!.url,
    natsUrl: `nats://${admin.user}:${admin.password}@${firstNats}`,
    natsServiceUrl,
    natsPasswords,
  };
  /** ports[name][replica]; bridge ports for the runtimes. */
  const ports = {} as Record<ServiceName | "bridge", number[]>;
  for (const name of [...SERVICES, "bridge"] as const) {
    ports[name] = [];
    for (let i = 0; i < replicas; i++) ports[name].push(await findFreePort());
  }
  // With a load balancer, each service is reached at one port of its own in front of its replicas.
  const front = {} as Record<ServiceName, number>;
  for (const name of SERVICES) front[name] = balanced ? await findFreePort() : ports[name][0]!;
  const common: Record<string, string> = {
    ...meshEnv(engines),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    REGISTRY_ADDR: `127.0.0.1:${front.registry}`,
    INSTANCES_ADDR: `127.0.0.1:${front.instances}`,
    RUNTIME_ADDR: `127.0.0.1:${front.runtime}`,
    ...(cluster ? { NATS_STREAM_REPLICAS: "3" } : {}),
    ...options.env,
  };
  // BERTH_FAULTS_DEBUG=runtime,instances: those services log at debug (where the seconds go).
  const debug = new Set((process.env.BERTH_FAULTS_DEBUG ?? "").split(","));
  const label = (name: string, replica: number) => (replicas > 1 ? `${name}-${replica + 1}` : name);
  const envOf = (name: ServiceName, replica: number): Record<string, string> => ({
    ...common,
    ...(debug.has(name) ? { LOG_LEVEL: "debug" } : {}),
    ...serviceMeshEnv(name, engines),
    ...(name === "gateway"
      ? { HTTP_PORT: String(ports.gateway[replica]), MCP_RESOLVE_CACHE_MS: "2000" }
      : { GRPC_PORT: String(ports[name][replica]) }),
    ...(name === "runtime"
      ? {
          BRIDGE_PORT: String(ports.bridge[replica]),
          BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
          // Each runtime's name among its peers (leases); a dead one's lease lapses in 3 s.
          BERTH_RUNTIME_NAME: label("runtime", replica),
          RUNTIME_LEASE_TTL_MS: "3000",
          RECONCILE_INTERVAL_MS: "2000",
          RESTART_BACKOFF_MS: "200",
          RESTART_BACKOFF_MAX_MS: "2000",
        }
      : {}),
  });
  const processes = new Map<string, ServiceProcess>();
  const killed = new Set<ServiceProcess>();
  const gatewayUrls = ports.gateway.map((port) => `http://127.0.0.1:${port}`);
  const gatewayUrl = `http://127.0.0.1:${front.gateway}`;

  let stopped = false;
  const start = async (name: ServiceName, replica = 0) => {
    if (stopped) throw new Error(`the mesh was stopped; ${name} is not started`);
    const key = label(name, replica);
    await appendFile(
      join(logDir, `${key}.log`),
      `${JSON.stringify({ level: "info", time: new Date().toISOString(), service: key, msg: "process spawned by the fault suite" })}\n`,
    );
    processes.set(
      key,
      spawnService(name, envOf(name, replica), {
        compiled: true,
        logFile: join(logDir, `${key}.log`),
      }),
    );
  };
  const readyAt = async (url: string) => {
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false; // not listening yet
    }
  };
  const waitReady = async (timeoutMs: number): Promise<number> => {
    const began = Date.now();
    const deadline = began + timeoutMs;
    const urls = balanced ? [...gatewayUrls, gatewayUrl] : [gatewayUrl];
    while (Date.now() < deadline) {
      const ready = await Promise.all(urls.map(readyAt));
      if (ready.every(Boolean)) return Date.now() - began;
      // A service that exited (not killed by the test) will not become ready: say so now.
      const exited = [...processes].filter(
        ([, p]) => !killed.has(p) && (p.child.exitCode !== null || p.child.signalCode !== null),
      );
      if (exited.length > 0) {
        throw new Error(
          `${exited.map(([name]) => name).join(", ")} exited before the mesh was ready:\n${lastOutput()}`,
        );
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
  const nodeOf = (node: number) => {
    const found = cluster?.nodes[node];
    if (!found) throw new Error(`no NATS cluster node ${node}`);
    return found;
  };

  const mesh: ProcessMesh = {
    gatewayUrl,
    gatewayUrls,
    adminKey: common.BERTH_BOOTSTRAP_API_KEY!,
    natsAdminUrl: engines.natsUrl,
    logDir,
    pids() {
      const pids: Record<string, number> = {};
      for (const [key, p] of processes) if (p.child.pid) pids[key] = p.child.pid;
      if (nats) pids.nats = nats.pid;
      for (const node of cluster?.nodes ?? []) {
        const pid = node.pid();
        if (pid) pids[node.name] = pid;
      }
      if (haproxy) pids.haproxy = haproxy.pid;
      return pids;
    },
    async kill(name, replica = 0) {
      const p = processes.get(label(name, replica));
      if (!p) return;
      killed.add(p);
      p.child.kill("SIGKILL");
      await p.exited;
    },
    start,
    async stopNats() {
      await nats?.stop();
      nats = undefined;
      await cluster?.stop();
    },
    async startNats() {
      if (cluster) await Promise.all(cluster.nodes.map((node) => node.start()));
      else nats = await startNats(natsOptions);
    },
    killNatsNode: (node) => nodeOf(node).kill(),
    startNatsNode: (node) => nodeOf(node).start(),
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
      await haproxy?.stop();
      haproxy = undefined;
      for (const name of [...SERVICES].reverse()) {
        await Promise.all(
          Array.from({ length: replicas }, (_, i) => processes.get(label(name, i))?.stop()),
        );
      }
      await nats?.stop();
      nats = undefined;
      await cluster?.stop();
      await postgres?.stop();
      postgres = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
  options.started?.(mesh);
  try {
    if (balanced) {
      const balancedPorts: BalancedPort[] = SERVICES.map((name) => ({
        name,
        bind: `127.0.0.1:${front[name]}`,
        servers: ports[name].map((port, i) => ({
          name: label(name, i),
          address: `127.0.0.1:${port}`,
        })),
        ...(name === "gateway" ? { readiness: "/readyz" } : {}),
      }));
      haproxy = await startHaproxy({ configFile: join(dir, "haproxy.cfg"), ports: balancedPorts });
    }
    // The registry seeds the catalog and the others create their schemas; one service at a time
    // is gentler on a small machine than all of them compiling at once (the replicas of one
    // service start together: they race for the same migrations, as in production).
    for (const name of SERVICES) {
      await Promise.all(Array.from({ length: replicas }, (_, i) => start(name, i)));
    }
    await waitReady(480_000);
  } catch (error) {
    await mesh.stop();
    throw error;
  }
  return mesh;
}
