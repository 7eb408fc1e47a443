import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServiceClient, loadConfig } from "@berth/platform";
import { RegistryService, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { useEngines } from "@berth/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { meshIdentity, serviceMeshEnv, testLogger } from "../../../test/support/mesh.js";
import { registryEnv, STARTER_CATALOG_DIR, startRegistry } from "../src/index.js";

// The bundled catalog fills an empty catalog on start, through the import path, exactly once.
describe("starter catalog", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let db: pg.Client;

  beforeAll(async () => {
    engines = await useEngines();
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await engines?.cleanup();
  });

  const start = (env: Record<string, string> = {}) =>
    startRegistry(
      loadConfig(registryEnv, {
        DATABASE_URL: engines.databaseUrl,
        ...serviceMeshEnv("registry", engines),
        GRPC_PORT: "0",
        ...env,
      }),
      testLogger("registry"),
    );

  it("imports the bundled server.json files into an empty catalog, once", async () => {
    const registry = await start();
    try {
      const client = createServiceClient(RegistryService, `127.0.0.1:${registry.port}`, {
        identity: meshIdentity("gateway"),
      });
      const stdio = await client.getServer({ id: "io.github.modelcontextprotocol/everything" });
      expect(stdio.server).toMatchObject({
        image: "berth/mcp-everything:stdio",
        transport: Transport.STDIO,
        imported: true,
      });
      const http = await client.getServer({ id: "io.github.modelcontextprotocol/everything-http" });
      expect(http.server).toMatchObject({
        image: "berth/mcp-everything:http",
        transport: Transport.STREAMABLE_HTTP,
        port: 3001,
        path: "/mcp",
      });
      // The bundled file comes back unchanged from export.
      const file = JSON.parse(await readFile(join(STARTER_CATALOG_DIR, "everything.json"), "utf8"));
      const exported = await client.exportServer({ id: stdio.server!.id });
      expect(exported.serverJson).toEqual(file);
    } finally {
      await registry.stop();
    }
    const again = await start();
    await again.stop();
    const rows = await db.query("select name, revision from registry.servers order by name");
    expect(rows.rows).toEqual([
      { name: "io.github.modelcontextprotocol/everything", revision: "1" },
      { name: "io.github.modelcontextprotocol/everything-http", revision: "1" },
    ]);
    // Read for a while, not until two: a third event (a second load) would show.
    const events = await readEvents(engines.natsUrl, "BERTH_REGISTRY", { waitMs: 1_500 });
    expect(events.map((e) => e.subject)).toEqual([
      "berth.registry.server.created",
      "berth.registry.server.created",
    ]);
  });

  it("loads nothing when turned off, and refuses to start on a broken bundled file", async () => {
    await db.query("delete from registry.servers");
    const off = await start({ REGISTRY_LOAD_CATALOG: "false" });
    await off.stop();
    expect((await db.query("select count(*)::int as n from registry.servers")).rows[0].n).toBe(0);

    const dir = await mkdtemp(join(tmpdir(), "berth-catalog-"));
    try {
      await writeFile(join(dir, "bad.json"), JSON.stringify({ name: "io.x/bad", version: "1" }));
      await expect(start({ REGISTRY_CATALOG_DIR: dir })).rejects.toThrow(
        /bad\.json.*server_json\.description/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect((await db.query("select count(*)::int as n from registry.servers")).rows[0].n).toBe(0);
  });
});
