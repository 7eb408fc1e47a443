import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { findPostgresBinDir } from "./engine-binaries.js";
import { EngineStartError } from "./errors.js";
import { findFreePort, isPortListening } from "./free-port.js";
import { isRoot, lastLines, runCommand } from "./run-command.js";
import type { PostgresHandle, PostgresOptions } from "./types.js";

/** The database the services share (each keeps its own schema in it). */
export const BERTH_DATABASE = "berth";
const ENGINE_USER = "postgres";

/**
 * Starts a Postgres server from the system binaries on 127.0.0.1 and ensures the `berth`
 * database exists. initdb runs only when dataDir holds no cluster yet, so a second start
 * reuses the data. Authentication is `trust`: the server listens on loopback only and its
 * unix socket sits inside the data directory, which is the embedded single-machine default,
 * not a production setting.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresHandle> {
  const bin = findPostgresBinDir();
  const dataDir = resolve(options.dataDir);
  if (dataDir.includes("'"))
    throw new EngineStartError(`Postgres data dir ${dataDir} holds a quote`);
  const pgCtl = (args: string[]) =>
    runCommand(join(bin, "pg_ctl"), ["-D", dataDir, ...args], { asUser: ENGINE_USER });

  if (!existsSync(join(dataDir, "PG_VERSION"))) await initCluster(bin, dataDir);
  // A server left running by an earlier run that was killed holds the directory: stop it.
  if ((await pgCtl(["status"])).code === 0) await pgCtl(["stop", "-m", "fast", "-w"]);

  const port = options.port ?? (await findFreePort());
  if (await isPortListening(port)) {
    throw new EngineStartError(
      `Postgres cannot start: port ${port} on 127.0.0.1 is already in use`,
    );
  }
  const logFile = join(dataDir, "postgres.log");
  const serverOptions = `-h 127.0.0.1 -p ${port} -k '${dataDir}'`;
  const started = await pgCtl(["start", "-w", "-t", "60", "-l", logFile, "-o", serverOptions]);
  if (started.code !== 0) {
    const log = await readFile(logFile, "utf8").catch(() => "");
    throw new EngineStartError(`Postgres did not start on port ${port}`, {
      output: lastLines(`${started.output}\n${lastLines(log, 10)}`),
    });
  }

  const base = `postgres://${ENGINE_USER}@127.0.0.1:${port}`;
  const adminUrl = `${base}/postgres`;
  await ensureDatabase(adminUrl, BERTH_DATABASE);
  let stopped = false;
  return {
    url: `${base}/${BERTH_DATABASE}`,
    adminUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      const result = await pgCtl(["stop", "-m", "fast", "-w", "-t", "60"]);
      if (result.code !== 0 && (await pgCtl(["status"])).code === 0) {
        throw new EngineStartError("Postgres did not stop", { output: lastLines(result.output) });
      }
      if (options.keep === false) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a new cluster in dataDir, owned by the postgres user when we run as root. */
async function initCluster(bin: string, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  if ((await readdir(dataDir)).length > 0) {
    throw new EngineStartError(
      `${dataDir} is not empty and holds no Postgres cluster; remove it or choose another directory`,
    );
  }
  await chmod(dataDir, 0o700);
  if (isRoot()) {
    const chown = await runCommand("chown", [`${ENGINE_USER}:`, dataDir]);
    if (chown.code !== 0) {
      throw new EngineStartError(`cannot hand ${dataDir} to the ${ENGINE_USER} user`, {
        output: chown.output,
      });
    }
  }
  if ((await runCommand("test", ["-w", dataDir], { asUser: ENGINE_USER })).code !== 0) {
    throw new EngineStartError(await unreachableReason(dataDir));
  }
  const args = ["-D", dataDir, "-U", ENGINE_USER, "--auth=trust", "--encoding=UTF8", "--locale=C"];
  const result = await runCommand(join(bin, "initdb"), args, { asUser: ENGINE_USER });
  if (result.code !== 0) {
    throw new EngineStartError(`initdb failed for ${dataDir}`, {
      output: lastLines(result.output),
    });
  }
}

/**
 * Names the folder that keeps the postgres user out of dataDir (mkdtemp folders and /root are
 * 0700), so the user knows what to chmod.
 */
async function unreachableReason(dataDir: string): Promise<string> {
  const chain: string[] = [];
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) chain.unshift(dir);
  for (const dir of chain) {
    if ((await runCommand("test", ["-x", dir], { asUser: ENGINE_USER })).code !== 0) {
      return `the ${ENGINE_USER} user cannot enter ${dir}, which holds the Postgres data dir ${dataDir}: allow it (chmod o+x ${dir}) or choose another data dir`;
    }
  }
  return `the ${ENGINE_USER} user cannot write the Postgres data dir ${dataDir}`;
}

/** Creates the database when it does not exist yet. */
async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}
