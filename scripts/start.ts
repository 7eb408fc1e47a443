// npm start: the whole mesh on one machine. Postgres and NATS JetStream with data under .berth/,
// then each service as its own process with its log in .berth/logs/. Ctrl-C stops services
// first, then the engines.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  berthNatsUsers,
  isPortListening,
  startNats,
  startPostgres,
  waitForPort,
} from "@berth/testkit/engines";
import { buildServices, compiledMain, isBuilt } from "./start/build.js";
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
const SERVICE_LISTEN_MS = 30_000;
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
const label = (name: string) => name.padEnd(10);
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

  // Refuse before starting anything: a half-started mesh next to an old one helps nobody.
  const busy: string[] = [];
  if (!process.env.NATS_URL && (await isPortListening(natsPort))) {
    busy.push(
      `Port ${natsPort} (NATS) is already in use: stop that server or set BERTH_NATS_PORT.`,
    );
  }
  for (const s of present) {
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
  else {
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

  for (const spec of specs) {
    if (stopping) return;
    if (!present.includes(spec)) {
      const source = join(ROOT, "services", spec.name, "src", "main.ts");
      say(`${label(spec.name)}skipped: ${shown(source)} does not exist yet`);
      continue;
    }
    const logFile = join(LOGS, `${spec.name}.log`);
    const service = spawnService(spec.name, compiledMain(ROOT, spec.name), {
      cwd: ROOT,
      env: serviceEnv(spec, { databaseUrl, natsUrl }, credentials, specs),
      logFile,
      sinks: {
        onCredential: (text) => (up ? say(text) : pendingCredentials.push(text)),
        onError: (text) => say(`${spec.name}: ${text}`),
      },
    });
    services.push(service);
    await leftovers.record(spec.name, service.pid);
    let exited = false;
    void service.exited.then(async (how) => {
      exited = true;
      if (stopping) return;
      const tail = await tailFile(logFile);
      await shutdown(
        1,
        `${spec.name} exited (${how}). Last lines of ${shown(logFile)}:\n${indent(tail)}`,
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
        `${spec.name} did not listen on 127.0.0.1:${spec.port} within 30 s; see ${shown(logFile)}`,
      );
    }
    say(`${label(spec.name)}127.0.0.1:${spec.port}  (log: ${shown(logFile)})`);
  }

  if (!present.some((s) => s.name === "gateway")) {
    say(
      "Engines are up, but the gateway is not written yet: nothing serves clients. Ctrl-C stops.",
    );
    return;
  }
  const healthy = await waitForHealthy(
    `${gatewayBase}/healthz`,
    GATEWAY_HEALTHY_MS,
    () => !!stopping,
  );
  if (stopping) return;
  if (!healthy) {
    const log = shown(join(LOGS, "gateway.log"));
    return shutdown(
      1,
      `The gateway did not answer GET ${gatewayBase}/healthz within 60 s; see ${log}`,
    );
  }
  up = true;
  say(`${label("gateway")}${gatewayBase}  (log: ${shown(join(LOGS, "gateway.log"))})`);
  say(`Berth is up. Gateway: ${gatewayBase} (REST, Connect, gRPC)`);
  for (const line of pendingCredentials.splice(0)) say(line);
  say(`Logs: ${shown(LOGS)}/<service>.log. Ctrl-C stops everything.`);
}

main().catch((error: Error) => shutdown(1, `npm start failed: ${error.message}`));
