import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
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
 * reuses the data. Every connection (TCP and the unix socket inside the data directory)
 * authenticates with scram-sha-256 as the `postgres` user and options.password; a cluster
 * made by an earlier version with `trust` is converted before it first listens on TCP.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresHandle> {
  const bin = findPostgresBinDir();
  const dataDir = resolve(options.dataDir);
  if (dataDir.includes("'"))
    throw new EngineStartError(`Postgres data dir ${dataDir} holds a quote`);
  const pgCtl = (args: string[]) =>
    runCommand(join(bin, "pg_ctl"), ["-D", dataDir, ...args], { asUser: ENGINE_USER });

  const password = options.password;
  if (password.length < 16) throw new EngineStartError("the Postgres password is too short");
  if (!existsSync(join(dataDir, "PG_VERSION"))) await initCluster(bin, dataDir, password);
  // A server left running by an earlier run that was killed holds the directory: stop it.
  if ((await pgCtl(["status"])).code === 0) await pgCtl(["stop", "-m", "fast", "-w"]);
  if (await trustsConnections(dataDir)) await convertToPassword(pgCtl, dataDir, password);

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

  const base = `postgres://${ENGINE_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
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
async function initCluster(bin: string, dataDir: string, password: string): Promise<void> {
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
  // The password goes through a file beside the data dir (never argv), removed right after.
  const pwfile = `${dataDir}.pwfile`;
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (isRoot()) await runCommand("chown", [`${ENGINE_USER}:`, pwfile]);
  const args = [
    "-D",
    dataDir,
    "-U",
    ENGINE_USER,
    "--auth=scram-sha-256",
    `--pwfile=${pwfile}`,
    "--encoding=UTF8",
    "--locale=C",
  ];
  const result = await runCommand(join(bin, "initdb"), args, { asUser: ENGINE_USER }).finally(() =>
    rm(pwfile, { force: true }),
  );
  if (result.code !== 0) {
    throw new EngineStartError(`initdb failed for ${dataDir}`, {
      output: lastLines(result.output),
    });
  }
}

/** The pg_hba.conf that asks every connection for the password (scram-sha-256). */
const PASSWORD_HBA = [
  "# Written by Berth: every connection proves the password (scram-sha-256).",
  "local all all scram-sha-256",
  "host all all 127.0.0.1/32 scram-sha-256",
  "host all all ::1/128 scram-sha-256",
  "",
].join("\n");

/** Whether pg_hba.conf lets any connection in without a password. */
async function trustsConnections(dataDir: string): Promise<boolean> {
  const hba = await readFile(join(dataDir, "pg_hba.conf"), "utf8").catch(() => "");
  return hba.split("\n").some((line) => /^\s*(local|host)\S*\s.*\btrust\b/.test(line));
}

/**
 * Gives a `trust` cluster (made before Berth set a password) the password and a scram-only
 * pg_hba.conf. The server runs on its unix socket only meanwhile (the socket sits in the
 * 0700 data dir), so nothing on TCP ever reaches it while it trusts.
 */
async function convertToPassword(
  pgCtl: (args: string[]) => Promise<{ code: number | null; output: string }>,
  dataDir: string,
  password: string,
): Promise<void> {
  const socketOnly = `-c listen_addresses='' -k '${dataDir}'`;
  // -l: without a log file the server would hold pg_ctl's output open and runCommand waits forever.
  const logFile = join(dataDir, "postgres.log");
  const started = await pgCtl(["start", "-w", "-t", "60", "-l", logFile, "-o", socketOnly]);
  if (started.code !== 0) {
    throw new EngineStartError("Postgres did not start to set its password", {
      output: lastLines(started.output),
    });
  }
  try {
    const client = new pg.Client({ host: dataDir, user: ENGINE_USER, database: "postgres" });
    await client.connect();
    try {
      await client.query("SET password_encryption = 'scram-sha-256'");
      await client.query(`ALTER ROLE ${ENGINE_USER} PASSWORD ${client.escapeLiteral(password)}`);
    } finally {
      await client.end();
    }
    await writeFile(join(dataDir, "pg_hba.conf"), PASSWORD_HBA);
  } finally {
    await pgCtl(["stop", "-m", "fast", "-w", "-t", "60"]);
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
