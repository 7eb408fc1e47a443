import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BerthError, createBerthClient } from "@berth/sdk";
import { useEngines } from "@berth/testkit";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";

/** What the proxy does with one request: pass it on, refuse it, or do it and lose the answer. */
type Plan = "pass" | "down" | "lose-answer";

/**
 * A loopback proxy in front of the gateway that follows a plan per request: "down" answers 503
 * with Retry-After without forwarding (a gateway restarting), "lose-answer" forwards the call and
 * then answers 503 instead of the result (a connection dropped after the commit).
 */
async function startFlakyProxy(target: string) {
  const plans: Plan[] = [];
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      bodies.push(body.toString("utf8"));
      const plan = plans.shift() ?? "pass";
      const unavailable = () => {
        res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
        res.end(JSON.stringify({ code: "unavailable", message: "gateway unavailable" }));
      };
      if (plan === "down") return unavailable();
      try {
        const upstream = await fetch(`${target}${req.url}`, {
          method: req.method ?? "POST",
          headers: forwarded(req.headers),
          body,
        });
        const answer = Buffer.from(await upstream.arrayBuffer());
        if (plan === "lose-answer") return unavailable();
        res.writeHead(upstream.status, {
          "content-type": upstream.headers.get("content-type") ?? "application/json",
        });
        res.end(answer);
      } catch {
        unavailable();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    plans,
    bodies,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function forwarded(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (["host", "connection", "content-length"].includes(name) || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

// The SDK's retries: a write whose answer was lost, or that met a gateway down for a moment,
// is sent again with the same request id and done exactly once.
describe("@berth/sdk retries", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let proxy: Awaited<ReturnType<typeof startFlakyProxy>>;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines, { services: ["registry", "instances"] });
    proxy = await startFlakyProxy(mesh.gateway.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await mesh?.stop();
    await engines?.cleanup();
  });
  beforeEach(() => {
    proxy.plans.length = 0;
    proxy.bodies.length = 0;
  });

  const client = (retry = {}) =>
    createBerthClient({
      baseUrl: proxy.url,
      apiKey: mesh.apiKey,
      retry: { baseDelayMs: 50, ...retry },
    });
  const instancesNamed = async (name: string) => {
    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      return (await db.query("select id from instances.instances where name = $1", [name])).rows;
    } finally {
      await db.end();
    }
  };
  const urlInstance = (name: string) => ({
    instance: { name, jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" } },
  });

  it("a create whose answer was lost is retried with the same request id and done once", async () => {
    proxy.plans.push("lose-answer");
    const { instance } = await client().instances.createInstance(urlInstance("lost-answer"));
    expect(await instancesNamed("lost-answer")).toEqual([{ id: instance!.id }]);
    expect(proxy.bodies).toHaveLength(2);
    const ids = proxy.bodies.map((b) => (JSON.parse(b) as { requestId?: string }).requestId);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[1]).toBe(ids[0]);
  });

  it("waits out a gateway that is down for a moment, honouring Retry-After", async () => {
    proxy.plans.push("down", "down");
    const started = Date.now();
    const { instance } = await client().instances.createInstance(urlInstance("down-a-moment"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(proxy.bodies).toHaveLength(3);
    expect(await instancesNamed("down-a-moment")).toEqual([{ id: instance!.id }]);
  });

  it("gives up after its attempts with UNAVAILABLE, saying so, and creates nothing", async () => {
    proxy.plans.push("down", "down", "down");
    const error = await client({ maxAttempts: 2, maxDelayMs: 100 })
      .instances.createInstance(urlInstance("never"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe("UNAVAILABLE");
    expect((error as BerthError).message).toMatch(/gave up after 2 attempts/);
    expect(proxy.bodies).toHaveLength(2);
    expect(await instancesNamed("never")).toEqual([]);
  });

  it("sends no retry when turned off, and keeps a request id the caller set", async () => {
    proxy.plans.push("down");
    const off = createBerthClient({ baseUrl: proxy.url, apiKey: mesh.apiKey, retry: false });
    await expect(off.instances.createInstance(urlInstance("no-retry"))).rejects.toThrow(BerthError);
    expect(proxy.bodies).toHaveLength(1);
    const requestId = "5b0c0a3e-8f2d-4d7a-9b1e-3c4d5e6f7a8b";
    await client().instances.createInstance({ ...urlInstance("own-id"), requestId });
    expect((JSON.parse(proxy.bodies[1]!) as { requestId: string }).requestId).toBe(requestId);
  });
});
