import { jetstreamManager } from "@nats-io/jetstream";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { connectAs, createTestDatabase, type TestDatabase, useEngines } from "../src/index.js";

async function scalar(url: string, sql: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0]?.value;
  } finally {
    await client.end();
  }
}

describe("createTestDatabase", () => {
  const created: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of created) await db.drop();
  });

  it("gives each caller its own empty database and drops it even with a session open", async () => {
    const adminUrl = inject("postgresAdminUrl");
    const a = await createTestDatabase(adminUrl);
    const b = await createTestDatabase(adminUrl);
    created.push(a, b);
    expect(a.url).not.toBe(b.url);
    await scalar(a.url, "CREATE TABLE only_in_a (id int)");
    const inB = "SELECT count(*)::int AS value FROM pg_tables WHERE tablename = 'only_in_a'";
    expect(await scalar(b.url, inB)).toBe(0);

    const open = new pg.Client({ connectionString: a.url });
    open.on("error", () => undefined); // the drop cuts this session on purpose
    await open.connect();
    await a.drop();
    const name = new URL(a.url).pathname.slice(1);
    const exists = `SELECT count(*)::int AS value FROM pg_database WHERE datname = '${name}'`;
    expect(await scalar(adminUrl, exists)).toBe(0);
    await open.end().catch(() => undefined);
  });
});

describe("useEngines", () => {
  it("starts each file from a fresh database and a bus without BERTH_ streams", async () => {
    const natsUrl = inject("natsUrl");
    const nc = await connectAs(natsUrl);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "BERTH_LEFTOVER", subjects: ["berth.leftover.>"] });
    await jsm.streams.add({ name: "OTHER_KEPT", subjects: ["other.kept.>"] });

    const engines = await useEngines();
    try {
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      expect(names).not.toContain("BERTH_LEFTOVER");
      expect(names).toContain("OTHER_KEPT");
      expect(engines.natsUrl).toBe(natsUrl);
      const tables = "SELECT count(*)::int AS value FROM pg_tables WHERE schemaname = 'public'";
      expect(await scalar(engines.databaseUrl, tables)).toBe(0);
    } finally {
      await jsm.streams.delete("OTHER_KEPT");
      await nc.close();
      await engines.cleanup();
    }
    await expect(scalar(engines.databaseUrl, "SELECT 1 AS value")).rejects.toThrow(
      /does not exist/,
    );
  });
});
