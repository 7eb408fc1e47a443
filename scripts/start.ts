// npm start: the whole mesh on one machine. Postgres and NATS JetStream with data under .berth/,
// then each service as its own process with its log in .berth/logs/. Ctrl-C stops services
// first, then the engines.
// npm run start:cluster (--cluster): the scaled-out topology on one machine instead: a
// three-node JetStream cluster, two replicas of every service, HAProxy on the usual ports.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  berthNatsUsers,
  isPortListening,
  startHaproxy,
  startNats,
  startNatsCluster,
  startPostgres,
  waitForPort,
} from "@berth/testkit/engines";
import { buildServices, compiledMain, isBuilt } from "./start/build.js";
import { balancedPorts, clusterReplicas, natsClusterPorts } from "./start/cluster.js";
import { loadOrCreateCredentials } from "./start/credentials.js";
import { waitForHealthy } from "./start/health.js";
import { createLeftovers } from "./start/leftovers.js";
import { type ServiceProcess, spawnService, tailFile } from "./start/service-process.js";
import { gatewayUrl, portFromEnv, serviceEnv, servicesFromEnv } from "./start/services.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// BERTH_HOME moves everything npm start keeps (data, logs, credentials) out of the checkout.
const HOME = process.env.BERTH_HOME ? resolve(process.env.BERTH_HOME) : join(ROOT, ".berth");
const LOGS = join(HOME, "logs");
const credentials = loadOrCreateCredentials(join(HOME, "credentials.env"), join(HOME, "mesh"));
const leftovers = createLeftovers(join(HOME, "run"), ROOT);
// Eight processes start at once in a cluster: give each longer on a small machine.
const SERVICE_LISTEN_MS = process.argv.includes("--cluster") ? 90_000 : 30_000;
const CLUSTER = process.argv.includes("--cluster");
const GATEWAY_HEALTHY_MS = 60_000;

const engines: Array<{ name: string; stop(): Promise<void> }> = [];
const services: ServiceProcess[] = [];
const pendingCredentials: string[] = [];
let engineStarting: Promise<unknown> = Promise.resolve();
let stopping: Promise<void> | undefined;
let up = false;

const say = (line: string) => process.stdout.write(`${line}\n`);
const shown = (path: string) => {
  const near = relative(process.cwd(), path);
  return near.startsWith("..") ? path : near || ".";
};
const label = (name: string) => name.padEnd(12);
const indent = (text: string) => text.replace(/^/gm, "    ");

/** Stops services (in parallel, SIGTERM then SIGKILL), then the engines, then exits. */
function shutdown(code: number, reason?: string): Promise<void> {
  stopping ??= (async () => {
    if (reason) say(reason);
    await engineStarting.catch(() => undefined); // an engine still starting must be stopped too
    const anything = services.length + engines.length > 0;
    if (anything) say("Stopping Berth…");
    await Promise.all(services.map((service) => service.stop()));
    for (const engine of engines.reverse()) {
      await engine
        .stop()
        .catch((error: Error) => say(`${engine.name} did not stop: ${error.message}`));
    }
    await leftovers.clear();
    if (anything) say("Stopped.");
    process.exit(code);
  })();
  return stopping;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  // Ctrl-C reaches us twice under tsx (terminal and relay); shutdown() runs once.
  process.on(signal, () => void shutdown(0));
}

async function startEngine<T extends { stop(): Promise<void> }>(
  name: string,
  start: () => Promise<T>,
) {
  const starting = start();
  engineStarting = starting;
  const engine = await starting;
  engines.push({ name, stop: () => engine.stop() });
  return engine;
}

async function main(): Promise<void> {
  await mkdir(LOGS, { recursive: true });
  const stale = await leftovers.stopAll();
  if (stale.length > 0) say(`Stopped ${stale.join(", ")}, left running by an earlier npm start.`);
  const pgPort = portFromEnv("BERTH_PG_PORT", 55432);
  const natsPort = portFromEnv("BERTH_NATS_PORT", 4222);
  const specs = servicesFromEnv();
  const gatewayBase = gatewayUrl(specs);
  const present = specs.filter((s) => existsSync(join(ROOT, "services", s.name, "src/main.ts")));
  // In a cluster, each service's usual port is HAProxy's, in front of the replicas' own ports.
  const replicas = CLUSTER ? clusterReplicas(present) : [];
  const natsCluster = natsClusterPorts(natsPort);

  // Refuse before starting anything: a half-started mesh next to an old one helps nobody.
  const busy: string[] = [];
  const natsPorts = CLUSTER ? [...natsCluster.ports, ...natsCluster.clusterPorts] : [natsPort];
  for (const port of process.env.NATS_URL ? [] : natsPorts) {
    if (await isPortListening(port)) {
      busy.push(
        `Port ${port} (NATS) is already in use: stop that server or set ${CLUSTER ? "BERTH_NATS_PORT / BERTH_NATS_CLUSTER_PORT" : "BERTH_NATS_PORT"}.`,
      );
    }
  }
  for (const s of [...present, ...replicas.map((r) => r.spec)]) {
    if (await isPortListening(s.port)) {
      const variable = `BERTH_${s.name.toUpperCase()}_PORT`;
      busy.push(
        `Port ${s.port} (${s.name}) is already in use: stop what listens there or set ${variable}.`,
      );
    }
  }
  if (busy.length > 0) return shutdown(1, busy.join("\n"));
  // Services run compiled (node dist/…/main.js); tsc -b recompiles only what changed.
  const names = present.map((s) => s.name);
  if (!(await isBuilt(ROOT, names))) say("Compiling the services (tsc -b, into services/*/dist)…");
  await buildServices(ROOT);
  if (stopping) return;

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) say(`${label("Postgres")}DATABASE_URL from the environment`);
  else {
    const dataDir = join(HOME, "postgres");
    const password = credentials.pgPassword;
    const pg = await startEngine("Postgres", () =>
      startPostgres({ dataDir, port: pgPort, password }),
    );
    databaseUrl = pg.url;
    // The URL carries the password: show where it is kept instead.
    const shownUrl = pg.url.replace(`:${encodeURIComponent(password)}@`, ":…@");
    say(
      `${label("Postgres")}${shownUrl}  (data: ${shown(dataDir)}, password in ${shown(join(HOME, "credentials.env"))})`,
    );
  }
  if (stopping) return;
  let natsUrl = process.env.NATS_URL;
  if (natsUrl) say(`${label("NATS")}NATS_URL from the environment`);
  else if (CLUSTER) {
    const storeDir = join(HOME, "nats-cluster");
    const users = berthNatsUsers(credentials.natsPasswords);
    const cluster = await startEngine("NATS", () =>
      startNatsCluster({ storeDir, users, logDir: LOGS, ...natsCluster }),
    );
    natsUrl = cluster.url;
    for (const node of cluster.nodes) {
      await leftovers.record(node.name, node.pid());
      say(
        `${label("NATS")}${node.url}  (${node.name}, store: ${shown(join(storeDir, node.name))})`,
      );
    }
  } else {
    const storeDir = join(HOME, "nats");
    const logFile = join(LOGS, "nats.log");
    const users = berthNatsUsers(credentials.natsPasswords);
    const nats = await startEngine("NATS", () =>
      startNats({ storeDir, port: natsPort, logFile, users }),
    );
    natsUrl = nats.url;
    await leftovers.record("nats", nats.pid);
    say(`${label("NATS")}${nats.url}  (store: ${shown(storeDir)})`);
  }

  if (CLUSTER) {
    if (stopping) return;
    const ports = balancedPorts(present, replicas);
    const haproxy = await startEngine("HAProxy", () =>
      startHaproxy({ configFile: join(HOME, "haproxy.cfg"), ports }),
    );
    await leftovers.record("haproxy", haproxy.pid);
    for (const port of ports) {
      const behind = port.servers.map((server) => server.address.split(":")[1]).join(", ");
      say(`${label("HAProxy")}${port.bind} -> ${port.name} on ${behind}`);
    }
  }

  // One process per service, or (cluster) one per replica, each started the same way.
  const launches = specs.flatMap((spec) => {
    const own = replicas.filter((replica) => replica.spec.name === spec.name);
    return own.length > 0
      ? own.map((replica) => ({ spec: replica.spec, label: replica.label, extra: replica.env }))
      : [{ spec, label: spec.name as string, extra: {} as Record<string, string> }];
  });
  for (const { spec, label: name, extra } of launches) {
    if (stopping) return;
    if (!present.some((s) => s.name === spec.name)) {
      const source = join(ROOT, "services", spec.name, "src", "main.ts");
      say(`${label(spec.name)}skipped: ${shown(source)} does not exist yet`);
      continue;
    }
    const logFile = join(LOGS, `${name}.log`);
    const service = spawnService(name, compiledMain(ROOT, spec.name), {
      cwd: ROOT,
      env: { ...serviceEnv(spec, { databaseUrl, natsUrl }, credentials, specs), ...extra },
      logFile,
      sinks: {
        onCredential: (text) => (up ? say(text) : pendingCredentials.push(text)),
        onError: (text) => say(`${name}: ${text}`),
      },
    });
    services.push(service);
    await leftovers.record(name, service.pid);
    let exited = false;
    void service.exited.then(async (how) => {
      exited = true;
      if (stopping) return;
      const tail = await tailFile(logFile);
      await shutdown(
        1,
        `${name} exited (${how}). Last lines of ${shown(logFile)}:\n${indent(tail)}`,
      );
    });
    if (spec.name === "gateway") continue; // the gateway is judged by /healthz below
    const listening = await Promise.race([
      waitForPort(spec.port, SERVICE_LISTEN_MS),
      service.exited.then(() => false),
    ]);
    if (exited || stopping) return;
    if (!listening) {
      return shutdown(
        1,
        `${name} did not listen on 127.0.0.1:${spec.port} within ${SERVICE_LISTEN_MS / 1_000} s; see ${shown(logFile)}`,
      );
    }
    say(`${label(name)}127.0.0.1:${spec.port}  (log: ${shown(logFile)})`);
  }

  if (!present.some((s) => s.name === "gateway")) {
    say(
      "Engines are up, but the gateway is not written yet: nothing serves clients. Ctrl-C stops.",
    );
    return;
  }
  // Each gateway answers on its own (in a cluster: each replica, then HAProxy in front).
  const gateways = launches
    .filter((launch) => launch.spec.name === "gateway")
    .map((launch) => ({ name: launch.label, base: `http://127.0.0.1:${launch.spec.port}` }));
  for (const gateway of gateways) {
    const healthy = await waitForHealthy(
      `${gateway.base}/healthz`,
      GATEWAY_HEALTHY_MS,
      () => !!stopping,
    );
    if (stopping) return;
    const log = shown(join(LOGS, `${gateway.name}.log`));
    if (!healthy) {
      return shutdown(
        1,
        `The gateway did not answer GET ${gateway.base}/healthz within 60 s; see ${log}`,
      );
    }
    say(`${label(gateway.name)}${gateway.base}  (log: ${log})`);
  }
  up = true;
  say(
    CLUSTER
      ? `Berth is up: two replicas of every service behind HAProxy, NATS as a three-node JetStream cluster. Gateway: ${gatewayBase} (REST, Connect, gRPC)`
      : `Berth is up. Gateway: ${gatewayBase} (REST, Connect, gRPC)`,
  );
  for (const line of pendingCredentials.splice(0)) say(line);
  say(
    `Logs: ${shown(LOGS)}/<${CLUSTER ? "service-replica" : "service"}>.log. Ctrl-C stops everything.`,
  );
}

main().catch((error: Error) => shutdown(1, `npm start failed: ${error.message}`));
