import { useEngines } from "@berth/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "./support/events.js";
import { startMesh, type TestMesh } from "./support/mesh.js";

// The walking skeleton: REST at the gateway → registry over gRPC → Postgres row + outbox →
// McpServerCreated on JetStream → GET through the gateway.
describe("walking skeleton: POST /v1/servers through the gateway", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines);
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  const get = (path: string) =>
    fetch(`${mesh.gateway.url}${path}`, { headers: { authorization: `Bearer ${mesh.apiKey}` } });
  const post = (body: unknown) =>
    fetch(`${mesh.gateway.url}/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${mesh.apiKey}` },
      body: JSON.stringify(body),
    });

  it("stores the server, publishes McpServerCreated once, and serves it back", async () => {
    const response = await post({
      name: "everything",
      title: "Everything",
      transport: "TRANSPORT_STDIO",
      image: "berth/everything:1",
    });
    expect(response.status).toBe(200);
    const created = (await response.json()) as {
      id: string;
      name: string;
      title: string;
      revision: string;
    };
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created).toMatchObject({ name: "everything", title: "Everything", revision: "1" });

    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      const rows = await db.query("select name, image from registry.servers where id = $1", [
        created.id,
      ]);
      expect(rows.rows).toEqual([{ name: "everything", image: "berth/everything:1" }]);
    } finally {
      await db.end();
    }

    const events = await readEvents(engines.natsUrl, "BERTH_REGISTRY", {
      until: (all) => all.some((e) => e.envelope.aggregateId === created.id),
    });
    const mine = events.filter((e) => e.envelope.aggregateId === created.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ subject: "berth.registry.server.created" });
    expect(mine[0]!.envelope.eventType).toBe("berth.events.v1.McpServerCreated");

    for (const key of [created.id, "everything"]) {
      const got = await get(`/v1/servers/${key}`);
      expect(got.status).toBe(200);
      expect(await got.json()).toEqual(created);
    }
  });

  it("rejects a bad name with 400 naming the field, and writes nothing", async () => {
    const response = await post({ name: "Not A Name!", transport: "TRANSPORT_STDIO" });
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error: { status: string; details: Array<{ fieldViolations?: Array<{ field: string }> }> };
    };
    expect(body.error.status).toBe("INVALID_ARGUMENT");
    expect(body.error.details.flatMap((d) => d.fieldViolations ?? []).map((v) => v.field)).toEqual([
      "server.name",
    ]);

    const list = await get(`/v1/servers/${encodeURIComponent("Not A Name!")}`);
    expect(list.status).toBe(404);
  });

  it("answers 409 for a duplicate name and 404 for an unknown id", async () => {
    expect((await post({ name: "dup", transport: "TRANSPORT_STDIO" })).status).toBe(200);
    const again = await post({ name: "dup", transport: "TRANSPORT_STDIO" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { status: string } }).error.status).toBe(
      "ALREADY_EXISTS",
    );
    const missing = await get("/v1/servers/00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
  });
});
