import { createServiceClient, loadConfig } from "@berth/platform";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { useEngines } from "@berth/testkit";
import type { Client } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshIdentity, serviceMeshEnv, testLogger } from "../../../test/support/mesh.js";
import { type Registry, registryEnv, startRegistry } from "../src/index.js";

const TOTAL = 10_000;

// 10,000 entries, 10 per millisecond (ties broken by id), listed page by page while new entries
// keep arriving: every entry comes exactly once.
describe("listing 10,000 entries page by page", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let registry: Registry;
  let client: Client<typeof RegistryService>;
  let ids: Set<string>;

  beforeAll(async () => {
    engines = await useEngines();
    const env = {
      DATABASE_URL: engines.databaseUrl,
      ...serviceMeshEnv("registry", engines),
      GRPC_PORT: "0",
      REGISTRY_LOAD_CATALOG: "false",
    };
    registry = await startRegistry(loadConfig(registryEnv, env), testLogger("registry"));
    client = createServiceClient(RegistryService, `127.0.0.1:${registry.port}`, {
      identity: meshIdentity("gateway"),
      defaultTimeoutMs: 30_000,
    });
    // Bulk rows straight into the registry's table (the listing under test goes through the API).
    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      const inserted = await db.query(
        `insert into registry.servers (id, name, status, transport, tags, created_at, updated_at)
         select gen_random_uuid(), 'bulk-' || i, 'ACTIVE', 'STDIO',
                case when i % 2 = 0 then '["bulk","even"]'::jsonb else '["bulk"]'::jsonb end,
                now() - interval '1 hour' + (i / 10) * interval '1 millisecond', now()
         from generate_series(1, $1::int) as i
         returning id`,
        [TOTAL],
      );
      ids = new Set(inserted.rows.map((r: { id: string }) => r.id));
    } finally {
      await db.end();
    }
  });
  afterAll(async () => {
    await registry?.stop();
    await engines?.cleanup();
  });

  async function listAll(
    request: { pageSize: number; tag?: string },
    onPage?: (n: number) => Promise<void>,
  ) {
    const seen: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 1_000; page++) {
      const answer = await client.listServers({ ...request, pageToken });
      seen.push(...answer.servers.map((s) => s.id));
      await onPage?.(page);
      pageToken = answer.nextPageToken;
      if (!pageToken) return seen;
    }
    throw new Error("more than 1,000 pages");
  }

  it("returns each entry exactly once at the largest page size, with inserts during the listing", async () => {
    const added: string[] = [];
    const seen = await listAll({ pageSize: 1000 }, async (page) => {
      if (page % 3 === 0) {
        const { server } = await client.createServer({ server: { name: `added-${page}` } });
        added.push(server!.id);
      }
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => ids.has(id))).toHaveLength(TOTAL);
    // Entries created while listing come after the older ones, so they are listed too.
    expect(seen.slice(TOTAL)).toEqual(added);
  });

  it("pages a filtered listing and caps the page size at 1000", async () => {
    const even = await listAll({ pageSize: 700, tag: "even" });
    expect(new Set(even).size).toBe(TOTAL / 2);
    const big = await client.listServers({ pageSize: 5000 });
    expect(big.servers).toHaveLength(1000);
    const small = await client.listServers({});
    expect(small.servers).toHaveLength(50);
  });
});
