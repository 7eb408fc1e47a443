import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPostgresBinDir } from "../src/engine-binaries.js";
import { EngineStartError, type PostgresHandle, startPostgres } from "../src/index.js";
import { runCommand } from "../src/run-command.js";
import { makeTempDir } from "./temp-dir.js";

async function query(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const password = randomBytes(18).toString("base64url");

describe("startPostgres", () => {
  let root: string;
  const running: PostgresHandle[] = [];
  beforeAll(async () => {
    root = await makeTempDir("berth-pg-test-");
  });
  afterAll(async () => {
    for (const server of running) await server.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it("serves a berth database on 127.0.0.1 and keeps its data across a restart", async () => {
    const dataDir = join(root, "kept");
    const first = await startPostgres({ dataDir, password });
    running.push(first);
    expect(first.url).toBe(
      `postgres://postgres:${password}@127.0.0.1:${new URL(first.url).port}/berth`,
    );
    await query(first.url, "CREATE TABLE notes (body text)");
    await query(first.url, "INSERT INTO notes VALUES ($1)", ["survives restarts"]);
    await first.stop();

    const second = await startPostgres({ dataDir, password });
    running.push(second);
    expect(await query(second.url, "SELECT body FROM notes")).toEqual([
      { body: "survives restarts" },
    ]);
    await second.stop();
    expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(true);
  });

  it("refuses a connection without the password or with a wrong one", async () => {
    const server = await startPostgres({ dataDir: join(root, "locked-door"), password });
    running.push(server);
    const url = new URL(server.url);
    url.password = "";
    await expect(query(url.toString(), "SELECT 1")).rejects.toThrow(/password/);
    url.password = "not-the-password";
    await expect(query(url.toString(), "SELECT 1")).rejects.toThrow(
      /password authentication failed/,
    );
    await server.stop();
  });

  it("gives a cluster made with trust authentication the password before it listens", async () => {
    const dataDir = join(root, "was-trusting");
    // A cluster as earlier versions made it: every connection trusted.
    await mkdir(dataDir, { mode: 0o700 });
    if (process.getuid?.() === 0) await runCommand("chown", ["postgres:", dataDir]);
    const made = await runCommand(
      join(findPostgresBinDir(), "initdb"),
      ["-D", dataDir, "-U", "postgres", "--auth=trust"],
      { asUser: "postgres" },
    );
    expect(made.code).toBe(0);
    const server = await startPostgres({ dataDir, password });
    running.push(server);
    expect(await query(server.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    const url = new URL(server.url);
    url.password = "";
    await expect(query(url.toString(), "SELECT 1")).rejects.toThrow(/password/);
    await server.stop();
  });

  it("is unreachable after stop()", async () => {
    const server = await startPostgres({ dataDir: join(root, "stopped"), password });
    running.push(server);
    await server.stop();
    await expect(query(server.url, "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
  });

  it("removes the data directory on stop() when keep is false", async () => {
    const dataDir = join(root, "throwaway");
    const server = await startPostgres({ dataDir, keep: false, password });
    running.push(server);
    expect(await query(server.adminUrl, "SELECT current_database() AS db")).toEqual([
      { db: "postgres" },
    ]);
    await server.stop();
    expect(existsSync(dataDir)).toBe(false);
  });

  it("refuses a non-empty folder that holds no cluster instead of overwriting it", async () => {
    const dataDir = join(root, "not-a-cluster");
    await mkdir(dataDir);
    await writeFile(join(dataDir, "precious.txt"), "keep me");
    await expect(startPostgres({ dataDir, password })).rejects.toThrow(EngineStartError);
    expect(existsSync(join(dataDir, "precious.txt"))).toBe(true);
  });

  // Only root hands the data dir to the postgres user; other users own their folders anyway.
  it.runIf(process.getuid?.() === 0)(
    "names the folder that locks the postgres user out",
    async () => {
      const locked = join(root, "locked");
      await mkdir(locked, { mode: 0o700 });
      await chmod(locked, 0o700);
      await expect(startPostgres({ dataDir: join(locked, "data"), password })).rejects.toThrow(
        `cannot enter ${locked}`,
      );
    },
  );
});
