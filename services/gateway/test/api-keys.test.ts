import { useEngines } from "@berth/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

type ErrorBody = {
  error: {
    code: number;
    status: string;
    message: string;
    details: Array<{ fieldViolations?: Array<{ field: string }> }>;
  };
};

describe("API keys at the gateway", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines);
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  it("answers 401 without a key, with a malformed key and with a wrong secret", async () => {
    const wrongSecret = mesh.adminKey.replace(/_[^_]{8}/, "_AAAAAAAA");
    for (const key of [null, "nonsense", wrongSecret]) {
      const response = await mesh.rest("GET", "/v1/servers", undefined, key);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const body = (await response.json()) as ErrorBody;
      expect(body.error.status).toBe("UNAUTHENTICATED");
      if (key) expect(JSON.stringify(body)).not.toContain(key);
    }
    const viaHeader = await fetch(`${mesh.gateway.url}/v1/servers`, {
      headers: { "x-api-key": mesh.adminKey },
    });
    expect(viaHeader.status).toBe(200);
  });

  it("shows a new key once and stores only a hash of it", async () => {
    const response = await mesh.rest("POST", "/v1/apiKeys", {
      displayName: "ci reader",
      scopes: ["API_KEY_SCOPE_READ"],
    });
    expect(response.status).toBe(200);
    const created = (await response.json()) as {
      apiKey: { id: string; state: string };
      key: string;
    };
    expect(created.key).toMatch(new RegExp(`^berth_${created.apiKey.id}_[A-Za-z0-9_-]{43}$`));
    expect(created.apiKey.state).toBe("API_KEY_STATE_ACTIVE");
    const secret = created.key.split("_").slice(2).join("_");

    const got = await mesh.rest("GET", `/v1/apiKeys/${created.apiKey.id}`);
    expect(await got.json()).toMatchObject({
      id: created.apiKey.id,
      displayName: "ci reader",
      scopes: ["API_KEY_SCOPE_READ"],
    });
    const list = await (await mesh.rest("GET", "/v1/apiKeys")).text();
    expect(list).toContain(created.apiKey.id);
    for (const text of [
      list,
      JSON.stringify(await (await mesh.rest("GET", `/v1/apiKeys/${created.apiKey.id}`)).json()),
    ]) {
      expect(text).not.toContain(secret);
    }
    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query("select * from gateway.api_keys where id = $1", [
        created.apiKey.id,
      ]);
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows[0])).not.toContain(secret);
      expect(rows[0].secret_hash).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await db.end();
    }
  });

  it("enforces scopes: read reads, write writes, only admin manages keys", async () => {
    const reader = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    const writer = await createKey(mesh, { scopes: ["API_KEY_SCOPE_WRITE"] });
    const mcpOnly = await createKey(mesh, { scopes: ["API_KEY_SCOPE_MCP"] });
    const server = { name: "scoped", transport: "TRANSPORT_STDIO" };
    expect((await mesh.rest("GET", "/v1/servers", undefined, reader.key)).status).toBe(200);
    const denied = await mesh.rest("POST", "/v1/servers", server, reader.key);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as ErrorBody).error).toMatchObject({
      status: "PERMISSION_DENIED",
      message: "the API key lacks the write scope",
    });
    expect((await mesh.rest("POST", "/v1/servers", server, writer.key)).status).toBe(200);
    expect((await mesh.rest("GET", "/v1/servers/scoped", undefined, writer.key)).status).toBe(200);
    expect((await mesh.rest("GET", "/v1/servers", undefined, mcpOnly.key)).status).toBe(403);
    expect((await mesh.rest("GET", "/v1/apiKeys", undefined, writer.key)).status).toBe(403);
    expect(
      (
        await mesh.rest(
          "POST",
          "/v1/apiKeys",
          { displayName: "x", scopes: ["API_KEY_SCOPE_ADMIN"] },
          writer.key,
        )
      ).status,
    ).toBe(403);
  });

  it("refuses a revoked key at once, and says so", async () => {
    const key = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    expect((await mesh.rest("GET", "/v1/servers", undefined, key.key)).status).toBe(200);
    const revoked = await mesh.rest("POST", `/v1/apiKeys/${key.id}:revoke`, {});
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id: key.id, state: "API_KEY_STATE_REVOKED" });
    const after = await mesh.rest("GET", "/v1/servers", undefined, key.key);
    expect(after.status).toBe(401);
    expect(((await after.json()) as ErrorBody).error.message).toBe("the API key has been revoked");
    expect((await mesh.rest("DELETE", `/v1/apiKeys/${key.id}`)).status).toBe(200);
    expect((await mesh.rest("DELETE", "/v1/apiKeys/0000000000000000")).status).toBe(404);
  });

  it("refuses an expired key", async () => {
    const expireTime = new Date(Date.now() + 1_500).toISOString();
    const key = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"], expireTime });
    expect((await mesh.rest("GET", "/v1/servers", undefined, key.key)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const after = await mesh.rest("GET", "/v1/servers", undefined, key.key);
    expect(after.status).toBe(401);
    expect(((await after.json()) as ErrorBody).error.message).toBe("the API key has expired");
  });

  it("rejects a bad key request naming every field, and stores nothing", async () => {
    const before = (
      (await (await mesh.rest("GET", "/v1/apiKeys?page_size=500")).json()) as { apiKeys: unknown[] }
    ).apiKeys.length;
    const response = await mesh.rest("POST", "/v1/apiKeys", {
      displayName: " ",
      scopes: [],
      instances: ["bad name!"],
      rateLimitPerSecond: -1,
      expireTime: "2001-01-01T00:00:00Z",
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.details.flatMap((d) => d.fieldViolations ?? []).map((v) => v.field)).toEqual([
      "api_key.display_name",
      "api_key.scopes",
      "api_key.instances[0]",
      "api_key.rate_limit_per_second",
      "api_key.expire_time",
    ]);
    const wrongType = await mesh.rest("POST", "/v1/apiKeys", {
      displayName: "x",
      scopes: ["API_KEY_SCOPE_NOPE"],
    });
    expect(wrongType.status).toBe(400);
    const after = (
      (await (await mesh.rest("GET", "/v1/apiKeys?page_size=500")).json()) as { apiKeys: unknown[] }
    ).apiKeys.length;
    expect(after).toBe(before);
  });

  it("pages through keys, newest first", async () => {
    for (let i = 0; i < 3; i++)
      await createKey(mesh, { displayName: `page-${i}`, scopes: ["API_KEY_SCOPE_READ"] });
    const seen: string[] = [];
    let token = "";
    for (let page = 0; page < 50; page++) {
      const response = await mesh.rest("GET", `/v1/apiKeys?page_size=2&page_token=${token}`);
      const body = (await response.json()) as {
        apiKeys: Array<{ id: string }>;
        nextPageToken?: string;
      };
      expect(body.apiKeys.length).toBeLessThanOrEqual(2);
      seen.push(...body.apiKeys.map((k) => k.id));
      token = body.nextPageToken ?? "";
      if (!token) break;
    }
    const all = (
      (await (await mesh.rest("GET", "/v1/apiKeys?page_size=500")).json()) as {
        apiKeys: Array<{ id: string }>;
      }
    ).apiKeys;
    expect(seen).toEqual(all.map((k) => k.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await mesh.rest("GET", "/v1/apiKeys?page_token=garbage")).status).toBe(400);
  });

  it("limits the rate per key: 429 with Retry-After, other keys unaffected", async () => {
    const slow = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_READ"],
      rateLimitPerSecond: 0.2,
      rateLimitBurst: 2,
    });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const response = await mesh.rest("GET", "/v1/servers", undefined, slow.key);
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get("retry-after");
        expect(((await response.json()) as ErrorBody).error.status).toBe("RESOURCE_EXHAUSTED");
      }
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await mesh.rest("GET", "/v1/servers")).status).toBe(200);
  });
});
