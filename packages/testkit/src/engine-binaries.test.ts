import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findNatsServer, findPostgresBinDir } from "./engine-binaries.js";
import { EngineMissingError } from "./errors.js";

describe("engine binaries", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "berth-bin-"));
    await mkdir(join(root, "empty"));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  async function fakeBinDir(dir: string, names: string[]) {
    await mkdir(dir, { recursive: true });
    for (const name of names) {
      await writeFile(join(dir, name), "#!/bin/sh\n");
      await chmod(join(dir, name), 0o755);
    }
  }

  it("says to apt-get install nats-server when it is missing", () => {
    expect(() => findNatsServer([join(root, "empty")])).toThrow(EngineMissingError);
    expect(() => findNatsServer([join(root, "empty")])).toThrow("apt-get install nats-server");
  });

  it("says to apt-get install postgresql when the server binaries are missing", () => {
    const search = { versionsRoot: join(root, "empty"), dirs: [join(root, "empty")] };
    expect(() => findPostgresBinDir(search)).toThrow("apt-get install postgresql");
  });

  it("picks the newest complete Postgres version", async () => {
    const versions = join(root, "postgresql");
    await fakeBinDir(join(versions, "9.6", "bin"), ["initdb", "pg_ctl", "postgres"]);
    await fakeBinDir(join(versions, "15", "bin"), ["initdb", "pg_ctl", "postgres"]);
    // 16 lacks the server binary (only the client package): not usable.
    await fakeBinDir(join(versions, "16", "bin"), ["initdb", "pg_ctl"]);
    expect(findPostgresBinDir({ versionsRoot: versions, dirs: [] })).toBe(
      join(versions, "15", "bin"),
    );
  });

  it("falls back to PATH folders", async () => {
    const dir = join(root, "path-bin");
    await fakeBinDir(dir, ["initdb", "pg_ctl", "postgres"]);
    expect(findPostgresBinDir({ versionsRoot: join(root, "empty"), dirs: [dir] })).toBe(dir);
  });
});
