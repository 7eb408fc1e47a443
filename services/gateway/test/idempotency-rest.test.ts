import { randomUUID } from "node:crypto";
import { useEngines } from "@berth/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

type ErrorBody = {
  error: { status: string; details: Array<{ fieldViolations?: Array<{ field: string }> }> };
};

// REST transcoding carries request_id (in the body or the query, as each route binds it) to the
// services unchanged, so a REST client's retry is answered like a gRPC client's.
describe("request ids over REST", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines, { services: ["registry", "instances"] });
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  const count = async (sql: string, params: unknown[]) => {
    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      return (await db.query(sql, params)).rowCount;
    } finally {
      await db.end();
    }
  };
  const twice = async (method: string, path: string, body?: unknown) => {
    const first = await mesh.rest(method, path, body);
    const second = await mesh.rest(method, path, body);
    return [first, second] as const;
  };
  const violatedFields = async (response: Response) =>
    ((await response.json()) as ErrorBody).error.details.flatMap((d) =>
      (d.fieldViolations ?? []).map((v) => v.field),
    );

  it("a retried POST /v1/instances (request_id in the body) answers the first instance", async () => {
    const requestId = randomUUID();
    const spec = { type: "url", endpoint: "https://a.example/mcp" };
    const body = { instance: { name: "rest-retry", jsonSpec: spec }, requestId };
    const [first, second] = await twice("POST", "/v1/instances", body);
    expect([first.status, second.status]).toEqual([200, 200]);
    const [a, b] = [await first.json(), await second.json()];
    expect(b).toEqual(a);
    expect(await count("select 1 from instances.instances where name = $1", ["rest-retry"])).toBe(
      1,
    );

    const other = await mesh.rest("POST", "/v1/instances", {
      ...body,
      instance: { name: "rest-other", jsonSpec: spec },
    });
    expect(other.status).toBe(400);
    expect(await violatedFields(other)).toEqual(["request_id"]);

    const bad = await mesh.rest("POST", "/v1/instances", { ...body, requestId: "again" });
    expect(bad.status).toBe(400);
    expect(await violatedFields(bad)).toEqual(["request_id"]);
  });

  it("a retried DELETE with ?request_id= answers the first deletion", async () => {
    const created = (await (
      await mesh.rest("POST", "/v1/instances", {
        instance: {
          name: "rest-delete",
          jsonSpec: { type: "url", endpoint: "https://a.example/mcp" },
        },
      })
    ).json()) as { id: string };
    const [first, second] = await twice(
      "DELETE",
      `/v1/instances/${created.id}?request_id=${randomUUID()}`,
    );
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await second.json()).toEqual(await first.json());
  });

  it("a retried POST /v1/servers?request_id= creates one entry, not 409", async () => {
    const server = { name: "rest-idem", tags: ["demo"] };
    const path = `/v1/servers?request_id=${randomUUID()}`;
    const [first, second] = await twice("POST", path, server);
    const firstBody = await first.text();
    expect(first.status, firstBody).toBe(200);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(JSON.parse(firstBody));
    expect(await count("select 1 from registry.servers where name = $1", ["rest-idem"])).toBe(1);
  });

  it("a retried POST /v1/apiKeys?request_id= names the same key and never shows its secret again", async () => {
    const path = `/v1/apiKeys?request_id=${randomUUID()}`;
    const [first, second] = await twice("POST", path, {
      displayName: "idem-key",
      scopes: ["API_KEY_SCOPE_READ"],
    });
    expect([first.status, second.status]).toEqual([200, 200]);
    const a = (await first.json()) as { apiKey: { id: string }; key: string };
    const b = (await second.json()) as { apiKey: { id: string }; key?: string };
    expect(a.key).toMatch(/^berth_/);
    expect(b.apiKey).toEqual(a.apiKey);
    expect(b.key ?? "").toBe("");
    expect(
      await count("select 1 from gateway.api_keys where display_name = $1", ["idem-key"]),
    ).toBe(1);
    const secret = a.key.split("_").slice(2).join("_");
    const stored = await count(
      "select 1 from gateway.request_ids where encode(response, 'escape') like $1",
      [`%${secret}%`],
    );
    expect(stored).toBe(0);
  });
});
