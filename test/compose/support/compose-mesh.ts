import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { findFreePort, isPortListening } from "@berth/testkit";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const COMPOSE_FILE = join(ROOT, "deploy/compose/docker-compose.yml");
const UP_MS = 300_000;
const READY_MS = 180_000;
const run = promisify(execFile);

/** The mesh `docker-compose up` started, in a project, home and ports of its own. */
export interface ComposeMesh {
  project: string;
  gatewayUrl: string;
  /** The bootstrap admin key the init container made (BERTH_COMPOSE_HOME/bootstrap-api-key). */
  apiKey: string;
  /** Every generated credential value (credentials.env), to look for where none may appear. */
  secretValues: string[];
  /** Every port the mesh was told to use. */
  ports: number[];
  /** `docker-compose <args>` for this project; resolves with its output. */
  compose(args: string[], timeoutMs?: number): Promise<string>;
}

/** The variables a user's shell would have: none of the test process's mesh settings. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(VITEST|NODE_ENV$|DATABASE_URL$|NATS_URL$|BERTH_|LOG_LEVEL$)/.test(name))
      delete env[name];
  }
  return { ...env, ...extra };
}

/**
 * `docker-compose -p <project> -f deploy/compose/docker-compose.yml up -d` as the README says,
 * with BERTH_COMPOSE_HOME and every port of its own and the runtime's containers tagged with the
 * run id, then waits (bounded) until the gateway says every service is ready.
 */
export async function composeUp(home: string, runId: string): Promise<ComposeMesh> {
  const names = ["PG", "NATS", "REGISTRY", "INSTANCES", "RUNTIME", "BRIDGE", "GATEWAY"];
  const ports: number[] = [];
  for (const _ of names) {
    let port = await findFreePort();
    while (ports.includes(port)) port = await findFreePort();
    ports.push(port);
  }
  const project = `berthcompose${runId.replace(/[^a-z0-9]/g, "")}`;
  const env = userEnv({
    ...Object.fromEntries(names.map((n, i) => [`BERTH_${n}_PORT`, String(ports[i])])),
    BERTH_COMPOSE_HOME: home,
    BERTH_DOCKER_GID: String(statSync("/var/run/docker.sock").gid),
    BERTH_RUNTIME_SCOPE: `compose-${runId}`,
    BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
  });
  // The images come from this machine, never a registry: say how to build a missing one.
  const config = await run("docker-compose", ["-f", COMPOSE_FILE, "config"], { env });
  const images = [...config.stdout.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]!);
  for (const image of images) {
    await run("docker", ["image", "inspect", image]).catch(() => {
      throw new Error(
        `image ${image} is missing: build it with bash deploy/images/build-berth-images.sh (bash scripts/bootstrap.sh test does)`,
      );
    });
  }
  const compose = async (args: string[], timeoutMs = 120_000) => {
    try {
      const { stdout, stderr } = await run(
        "docker-compose",
        ["-p", project, "-f", COMPOSE_FILE, ...args],
        { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      );
      return `${stdout}${stderr}`;
    } catch (error) {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      throw new Error(`docker-compose ${args.join(" ")} failed: ${stdout}${stderr}`);
    }
  };
  const gatewayUrl = `http://127.0.0.1:${ports[names.indexOf("GATEWAY")]}`;
  // A mesh that did not come up is taken down here: the caller never gets a handle to it.
  const failed = async (why: string) => {
    const logs = await compose(["logs", "--no-color", "--tail", "20"]).catch(
      (e: Error) => e.message,
    );
    await compose(["down", "--remove-orphans", "-t", "10"], 180_000).catch(() => undefined);
    return new Error(`docker-compose up did not bring the mesh up (${why}):\n${logs}`);
  };
  await compose(["up", "-d"], UP_MS).catch(async (error: Error) => {
    throw await failed(error.message);
  });
  const ready = await waitForReady(`${gatewayUrl}/readyz`, READY_MS);
  if (ready !== "ready") throw await failed(`the gateway's /readyz said: ${ready}`);
  const kept = readFileSync(join(home, "credentials.env"), "utf8");
  const secretValues = kept
    .split("\n")
    .filter((line) => line.includes("="))
    .map((line) => line.slice(line.indexOf("=") + 1));
  const apiKey = readFileSync(join(home, "bootstrap-api-key"), "utf8").trim();
  return { project, gatewayUrl, apiKey, secretValues: [...secretValues, apiKey], ports, compose };
}

/** Polls /readyz until it answers 200 (every upstream SERVING); the last answer otherwise. */
async function waitForReady(url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      last = await response.text();
      if (response.ok) return "ready";
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return last;
}

/** Ports of the list that something still listens on. */
export async function listening(ports: number[]): Promise<number[]> {
  const open = await Promise.all(ports.map((port) => isPortListening(port)));
  return ports.filter((_, i) => open[i]);
}
