import { randomUUID } from "node:crypto";
import * as net from "node:net";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testLogger } from "../../../test/support/mesh.js";
import { type FakeInstance, startFakeLookup } from "./support/fake-lookup.js";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";

type JsonRpcError = { error: { code: number; message: string } };

// Issue 12 items 8, 9, 11: each attack performed against a real gateway, refused, while other
// callers still get through.
describe("the front door holds against a hostile key", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let lookup: Awaited<ReturnType<typeof startFakeLookup>>;
  const instances: FakeInstance[] = [];
  const add = (name: string) => {
    const instance = {
      id: randomUUID(),
      name,
      state: WorkloadState.RUNNING,
      url: everything.url,
      headers: {},
    };
    instances.push(instance);
    return instance;
  };

  beforeAll(async () => {
    engines = await useEngines();
    everything = await startEverythingServer();
    add("shared");
    lookup = await startFakeLookup(instances, testLogger("lookup"));
    mesh = await startKeyedMesh(engines, {
      services: [],
      env: {
        INSTANCES_ADDR: lookup.instancesAddr,
        RUNTIME_ADDR: lookup.runtimeAddr,
        MCP_SESSIONS_PER_KEY: "2",
        MCP_SESSIONS_PER_INSTANCE: "3",
        WATCH_STREAMS_PER_KEY: "2",
        AUTH_FAILURE_BURST: "5",
        AUTH_FAILURES_PER_MINUTE: "6",
        HTTP_HEADERS_TIMEOUT_MS: "1000",
        MCP_RESOLVE_CACHE_MS: "100",
      },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await lookup?.stop();
    await everything?.stop();
    await engines?.cleanup();
  });

  const session = async (key: string, ref = "shared") => {
    const transport = new StreamableHTTPClientTransport(new URL(`${mesh.gateway.url}/mcp/${ref}`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: "limits-test", version: "1.0.0" });
    await client.connect(transport);
    return { client, transport };
  };
  const post = (ref: string, key: string | null, headers: Record<string, string> = {}) =>
    fetch(`${mesh.gateway.url}/mcp/${ref}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...headers,
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });

  it("caps MCP sessions per key and per instance with a JSON-RPC 429; ending one frees its place", async () => {
    const flooder = await createKey(mesh, { scopes: ["API_KEY_SCOPE_MCP"] });
    const other = await createKey(mesh, { scopes: ["API_KEY_SCOPE_MCP"] });
    const first = await session(flooder.key);
    const second = await session(flooder.key);
    const refused = await post("shared", flooder.key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    const body = (await refused.json()) as JsonRpcError;
    expect(body.error.message).toMatch(/API key holds 2 MCP sessions/);

    const third = await session(other.key); // Another key still gets through.
    // The instance is full now (3): even the other key's next session is refused.
    const full = await post("shared", other.key);
    expect(full.status).toBe(429);
    expect(((await full.json()) as JsonRpcError).error.message).toMatch(/has 3 MCP sessions/);

    await first.transport.terminateSession(); // DELETE: the session ends and stops counting.
    await first.client.close();
    const again = await session(flooder.key);
    expect((await again.client.listTools()).tools.length).toBeGreaterThan(0);
    for (const s of [second, third, again]) {
      await s.transport.terminateSession();
      await s.client.close();
    }
  });

  it("caps open :watch streams per key; closing one frees its place, other keys unaffected", async () => {
    const watcher = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    const other = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    const clientFor = (key: string) => {
      const auth: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${key}`);
        return next(req);
      };
      const transport = createConnectTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "1.1",
        interceptors: [auth],
      });
      return createClient(InstancesService, transport);
    };
    const id = instances[0]!.id;
    const open = async (key: string) => {
      const abort = new AbortController();
      const stream = clientFor(key).watchInstance({ id }, { signal: abort.signal });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      return { abort, first };
    };
    const held = [await open(watcher.key), await open(watcher.key)];
    expect(held[0]!.first.value?.instance?.id).toBe(id);
    const refused = await open(watcher.key).catch((error: unknown) => ConnectError.from(error));
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((refused as ConnectError).rawMessage).toMatch(/2 open streams/);

    const others = await open(other.key);
    expect(others.first.value?.instance?.id).toBe(id);

    held[0]!.abort.abort();
    let reopened: Awaited<ReturnType<typeof open>> | undefined;
    for (let i = 0; i < 50 && !reopened; i++) {
      reopened = await open(watcher.key).catch(() => undefined);
      if (!reopened) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(reopened?.first.value?.instance?.id).toBe(id);
    for (const s of [held[1]!, others, reopened!]) s.abort.abort();
  });

  it("refuses /mcp from a foreign Origin or Host with 403 (DNS rebinding), before asking for a key", async () => {
    const admin = mesh.adminKey;
    const evilOrigin = await post("shared", admin, { origin: "http://evil.example.com" });
    expect(evilOrigin.status).toBe(403);
    expect(((await evilOrigin.json()) as JsonRpcError).error.message).toMatch(/origin/);
    const evilNoKey = await post("shared", null, { origin: "http://evil.example.com" });
    expect(evilNoKey.status).toBe(403);

    // What the MCP conformance scenario dns-rebinding-protection sends: a foreign Host header.
    const evilHost = await rawPost(mesh.gateway.url, "/mcp/shared", "evil.example.com");
    expect(evilHost).toMatch(/^HTTP\/1\.1 403 /);
    const goodHost = await rawPost(mesh.gateway.url, "/mcp/shared", new URL(mesh.gateway.url).host);
    expect(goodHost).toMatch(/^HTTP\/1\.1 401 /); // Past the guard: now a key is asked for.

    // Loopback origins (a local browser tool) and clients without Origin get through.
    expect((await post("shared", admin, { origin: "http://localhost:6274" })).status).toBe(400);
    expect((await post("shared", admin)).status).toBe(400); // The MCP server answers: no session.
  });

  it("binds an allow-list to instance ids: a new instance reusing a listed name is not allowed", async () => {
    const original = add("reused");
    const bound = await createKey(mesh, { scopes: ["API_KEY_SCOPE_MCP"], instances: ["reused"] });
    const shown = await mesh.rest("GET", `/v1/apiKeys/${bound.id}`);
    expect(((await shown.json()) as { instances: string[] }).instances).toEqual([original.id]);

    const unknown = await mesh.rest("POST", "/v1/apiKeys", {
      displayName: "bad",
      scopes: ["API_KEY_SCOPE_MCP"],
      instances: ["no-such-instance"],
    });
    expect(unknown.status).toBe(400);
    const problem = (await unknown.json()) as {
      error: { status: string; details: Array<{ fieldViolations?: Array<{ field: string }> }> };
    };
    expect(problem.error.status).toBe("INVALID_ARGUMENT");
    expect(problem.error.details[0]?.fieldViolations?.[0]?.field).toBe("api_key.instances[0]");

    // The instance is deleted and another one takes its name.
    instances.splice(instances.indexOf(original), 1);
    add("reused");
    const byName = await post("reused", bound.key);
    expect(byName.status).toBe(403);
    expect(((await byName.json()) as JsonRpcError).error.message).toMatch(/may not use instance/);
  });

  it("closes a connection whose headers come too slowly", async () => {
    const { port } = new URL(mesh.gateway.url);
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), "127.0.0.1", () => {
        socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"); // …and never the end.
      });
      let text = "";
      socket.on("data", (chunk) => (text += chunk));
      socket.on("close", () => resolve(text));
      setTimeout(() => socket.destroy(), 10_000);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("rate limits failed authentication per client address (429 with Retry-After); a right key still passes", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const guess = `berth_${"0".repeat(15)}${i}_guessed-secret-that-is-long-enough-000000`;
      statuses.push((await mesh.rest("GET", "/v1/servers", undefined, guess)).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const limited = await mesh.rest(
      "GET",
      "/v1/apiKeys",
      undefined,
      "berth_0000000000000009_x".padEnd(60, "y"),
    );
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    const mcpGuess = await post("shared", "berth_00000000000000aa_".padEnd(60, "z"));
    expect(mcpGuess.status).toBe(429);

    // A right key still works from the same address.
    expect((await mesh.rest("GET", "/v1/apiKeys")).status).toBe(200);
  });
});

/** A raw HTTP/1.1 POST with the Host header given (fetch would not let a test set it). */
function rawPost(base: string, path: string, host: string): Promise<string> {
  const { port } = new URL(base);
  const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), "127.0.0.1", () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    });
    let text = "";
    socket.on("data", (chunk) => (text += chunk));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
}
