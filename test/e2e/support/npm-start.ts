import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findFreePort, isPortListening } from "@berth/testkit";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const UP_MS = 240_000; // bootstrap may build the MCP images first
const STOP_MS = 60_000;

/** A mesh started with `npm start`, as the README says, in a home and on ports of its own. */
export interface NpmStartMesh {
  gatewayUrl: string;
  databaseUrl: string;
  natsUrl: string;
  /** The bootstrap admin key npm start printed. */
  apiKey: string;
  /** Everything npm start printed so far. */
  output(): string;
  /** Every port it was told to use. */
  ports: number[];
  /** Pids of npm start's children (services, NATS, Postgres) as it recorded them. */
  childPids(): number[];
  /** Ctrl-C (SIGINT to its process group, as a terminal sends it); resolves with how npm ended. */
  interrupt(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to everything it started, for a test that failed halfway. */
  kill(): void;
  child: ChildProcess;
}

/** An environment without the mesh settings of the test process (a user's shell has none). */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(VITEST|NODE_ENV$|DATABASE_URL$|NATS_URL$|GRPC_PORT$|HTTP_PORT$|BERTH_)/.test(name)) {
      delete env[name];
    }
    if (/_ADDR$/.test(name)) delete env[name];
  }
  return { ...env, ...extra };
}

/**
 * Runs `npm start` in its own process group with BERTH_HOME and free ports for every part, and
 * waits (bounded) until it says Berth is up and has printed the bootstrap API key.
 */
export async function npmStart(
  home: string,
  extraEnv: Record<string, string> = {},
): Promise<NpmStartMesh> {
  const names = ["PG", "NATS", "REGISTRY", "INSTANCES", "RUNTIME", "GATEWAY"];
  const ports = await Promise.all(names.map(() => findFreePort()));
  const portEnv = Object.fromEntries(names.map((n, i) => [`BERTH_${n}_PORT`, String(ports[i])]));
  const child = spawn("npm", ["start"], {
    cwd: ROOT,
    env: userEnv({ ...portEnv, ...extraEnv, BERTH_HOME: home }),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const kill = () => {
    for (const pid of [child.pid!, ...recordedPids(home)]) signalGroup(pid, "SIGKILL");
    for (const pid of postgresPid(home)) signalProcess(pid, "SIGINT"); // Postgres: fast shutdown
  };
  const deadline = Date.now() + UP_MS;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  while (!/^Logs: .*Ctrl-C stops everything\.$/m.test(output)) {
    if (gone || Date.now() > deadline) {
      kill();
      throw new Error(
        `npm start did not come up (${gone ? "it exited" : "timed out"}):\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const apiKey = /^BERTH_BOOTSTRAP_API_KEY=(\S+)$/m.exec(output)?.[1];
  if (!apiKey) throw new Error(`npm start printed no bootstrap key:\n${output}`);
  const [pg, nats, , , , gateway] = ports as [number, number, number, number, number, number];
  // The passwords npm start generated (Postgres; the runtime's NATS user can read JetStream state).
  const kept = readFileSync(join(home, "credentials.env"), "utf8");
  const keptValue = (name: string) =>
    encodeURIComponent(new RegExp(`^${name}=(.*)$`, "m").exec(kept)?.[1] ?? "");
  return {
    gatewayUrl: `http://127.0.0.1:${gateway}`,
    databaseUrl: `postgres://postgres:${keptValue("BERTH_PG_PASSWORD")}@127.0.0.1:${pg}/berth`,
    natsUrl: `nats://runtime:${keptValue("BERTH_NATS_PASSWORD_RUNTIME")}@127.0.0.1:${nats}`,
    apiKey,
    output: () => output,
    ports,
    childPids: () => [...recordedPids(home), ...postgresPid(home)],
    async interrupt() {
      signalGroup(child.pid!, "SIGINT");
      const timer = setTimeout(kill, STOP_MS);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
    kill,
    child,
  };
}

/** The pids npm start recorded in BERTH_HOME/run (services and NATS). */
function recordedPids(home: string): number[] {
  const run = join(home, "run");
  if (!existsSync(run)) return [];
  return readdirSync(run)
    .filter((f) => f.endsWith(".pid"))
    .map((f) => Number(readFileSync(join(run, f), "utf8")))
    .filter((pid) => Number.isInteger(pid) && pid > 1);
}

/** The embedded Postgres server's pid (first line of postmaster.pid). */
function postgresPid(home: string): number[] {
  const file = join(home, "postgres", "postmaster.pid");
  if (!existsSync(file)) return [];
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 1 ? [pid] : [];
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  signalProcess(-pid, signal);
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** Whether a process is still there (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Processes whose process group is pgid. */
export function groupMembers(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(isAlive);
}

/** Ports of the list that something still listens on. */
export async function listening(ports: number[]): Promise<number[]> {
  const open = await Promise.all(ports.map((port) => isPortListening(port)));
  return ports.filter((_, i) => open[i]);
}
