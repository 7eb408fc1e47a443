import { randomUUID } from "node:crypto";
import * as http from "node:http";
import { aborted, alreadyExists, createLogger, invalidArgument, notFound } from "@berth/platform";
import { InstanceStatus, InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import {
  type McpServer,
  McpServerSchema,
  RegistryService,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { clone, create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFrontDoor, type FrontRoute } from "../front-door.js";
import { createOnePortServer } from "./one-port-server.js";
import { createRestHandler } from "./rest-handler.js";
import { createRpcHandler } from "./rpc-handler.js";
import type { OnePortServer, RestHandler } from "./types.js";

/** An in-memory RegistryService: this test is about HTTP, not storage. */
function fakeRegistry() {
  const servers = new Map<string, McpServer>();
  const state = {
    lastContext: undefined as HandlerContext | undefined,
    release: Promise.resolve(),
  };
  const find = (idOrName: string) =>
    servers.get(idOrName) ?? [...servers.values()].find((s) => s.name === idOrName);
  const impl: ServiceImpl<typeof RegistryService> = {
    async createServer(req, context) {
      state.lastContext = context;
      const name = req.server?.name ?? "";
      if (name === "") throw invalidArgument([{ field: "server.name", description: "required" }]);
      if (name === "slow") await state.release;
      if (find(name)) throw alreadyExists("server", name);
      const server = clone(McpServerSchema, req.server ?? create(McpServerSchema));
      Object.assign(server, { id: randomUUID(), revision: 1n });
      servers.set(server.id, server);
      return { server };
    },
    async getServer(req) {
      return { server: find(req.id) ?? throwNotFound(req.id) };
    },
    async listServers(req) {
      const all = [...servers.values()].filter((s) => req.tag === "" || s.tags.includes(req.tag));
      const start = Number(req.pageToken || 0);
      const end = start + (req.pageSize || 50);
      return { servers: all.slice(start, end), nextPageToken: end < all.length ? String(end) : "" };
    },
    async updateServer(req) {
      const current = find(req.server?.id ?? "") ?? throwNotFound(req.server?.id ?? "");
      if (req.server?.revision && req.server.revision !== current.revision)
        throw aborted("stale revision");
      for (const path of req.updateMask?.paths ?? []) {
        if (path === "title") current.title = req.server?.title ?? "";
        if (path === "tags") current.tags = req.server?.tags ?? [];
      }
      current.revision += 1n;
      return { server: current };
    },
    async deleteServer(req) {
      if (!servers.delete(find(req.id)?.id ?? "")) throwNotFound(req.id);
      return {};
    },
    async importServer(req) {
      const doc = req.serverJson ?? {};
      const server = create(McpServerSchema, {
        id: randomUUID(),
        name: String(doc.name),
        description: String(doc.description),
      });
      servers.set(server.id, server);
      return { server, warnings: ["packages[0]: unsupported"], changed: true };
    },
    async exportServer(req) {
      const s = find(req.id) ?? throwNotFound(req.id);
      return { serverJson: { name: s.name } };
    },
  };
  return { impl, state, servers };
}

function throwNotFound(id: string): never {
  throw notFound("server", id);
}

/** Only WatchInstance: a server stream that ends, or waits until the client goes away. */
const watchSignals: AbortSignal[] = [];
const instancesImpl: Partial<ServiceImpl<typeof InstancesService>> = {
  async *watchInstance(req, context) {
    watchSignals.push(context.signal);
    for (const status of [
      InstanceStatus.PENDING,
      InstanceStatus.STARTING,
      InstanceStatus.RUNNING,
    ]) {
      yield { instance: { id: req.id, status } };
    }
    if (req.id === "forever")
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
    if (req.id === "broken") throw notFound("instance", req.id);
  },
};

const logger = createLogger({ service: "gateway-test", level: "silent" });

/** A one-port server as the gateway builds it: RPC routes, REST as the fallback, extra rows first. */
function serve(options: {
  routes: (router: ConnectRouter) => void;
  rest: RestHandler;
  interceptors?: Interceptor[];
  extra?: FrontRoute[];
  closeTimeoutMs?: number;
}): OnePortServer {
  const shutdown = new AbortController();
  const rpc = createRpcHandler({
    routes: options.routes,
    interceptors: options.interceptors ?? [],
    shutdownSignal: shutdown.signal,
    readMaxBytes: 64 * 1024,
    logger,
  });
  const handle = createFrontDoor({
    routes: [...(options.extra ?? []), { name: "rpc", serves: rpc.serves, handle: rpc.handle }],
    fallback: options.rest,
    logger,
  });
  return createOnePortServer({
    handle,
    onForceClose: () => shutdown.abort(),
    logger,
    ...(options.closeTimeoutMs ? { closeTimeoutMs: options.closeTimeoutMs } : {}),
  });
}
const registry = fakeRegistry();
let server: OnePortServer;
let base: string;

beforeAll(async () => {
  const rest = createRestHandler({
    services: [
      { service: RegistryService, impl: registry.impl },
      { service: InstancesService, impl: instancesImpl },
    ],
    maxBodyBytes: 64 * 1024,
    logger,
  });
  server = serve({
    routes: (router) => {
      router.service(RegistryService, registry.impl);
      router.service(InstancesService, instancesImpl);
    },
    rest,
    extra: [{ name: "health", paths: ["/healthz"], handle: (_req, res) => res.end("ok") }],
    closeTimeoutMs: 2_000,
  });
  const port = await server.listen(0);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.close();
});

const json = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

// biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON.
const bodyOf = (res: Response): Promise<any> => res.json();

/** A raw HTTP/1.1 request, for paths that fetch would normalize. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const port = Number(new URL(base).port);
    const req = http.request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("REST", () => {
  let id = "";

  it("creates a server and answers the resource itself (response_body)", async () => {
    const res = await json("POST", "/v1/servers", {
      name: "weather",
      tags: ["x"],
      envSchema: [{ name: "API_KEY", secret: true }],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await bodyOf(res);
    expect(body).toMatchObject({
      name: "weather",
      tags: ["x"],
      revision: "1",
      envSchema: [{ name: "API_KEY", secret: true }],
    });
    id = body.id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("gets it by id", async () => {
    const res = await json("GET", `/v1/servers/${id}`);
    expect(await bodyOf(res)).toMatchObject({ id, name: "weather" });
  });

  it("patches the fields named in update_mask", async () => {
    const res = await json("PATCH", `/v1/servers/${id}?update_mask=title`, {
      title: "Weather",
      description: "ignored",
    });
    const body = await bodyOf(res);
    expect(body).toMatchObject({ id, title: "Weather", revision: "2" });
    expect(body.description).toBeUndefined();
    const stale = await json("PATCH", `/v1/servers/${id}?update_mask=title`, {
      title: "x",
      revision: "1",
    });
    expect(stale.status).toBe(409);
    expect((await bodyOf(stale)).error).toMatchObject({
      code: 409,
      status: "ABORTED",
      message: "stale revision",
    });
  });

  it("lists page by page with query parameters", async () => {
    for (const name of ["a", "b", "c"]) await json("POST", "/v1/servers", { name, tags: ["x"] });
    await json("POST", "/v1/servers", { name: "untagged" });
    const page1 = await bodyOf(await json("GET", "/v1/servers?page_size=2&tag=x"));
    expect(page1.servers.map((s: McpServer) => s.name)).toEqual(["weather", "a"]);
    expect(page1.nextPageToken).toBe("2");
    const next = `/v1/servers?page_size=2&tag=x&pageToken=${page1.nextPageToken}`;
    const page2 = await bodyOf(await json("GET", next));
    expect(page2.servers.map((s: McpServer) => s.name)).toEqual(["b", "c"]);
    expect(page2.nextPageToken).toBeUndefined();
  });

  it("imports a server.json document (body: server_json, a Struct)", async () => {
    const doc = {
      name: "io.github.acme/tool",
      description: "Tool",
      packages: [{ registryType: "oci" }],
    };
    const res = await json("POST", "/v1/servers:import", doc);
    const imported = await bodyOf(res);
    expect(imported).toMatchObject({
      server: { name: "io.github.acme/tool", description: "Tool" },
      changed: true,
      warnings: ["packages[0]: unsupported"],
    });
    const exported = await json("GET", `/v1/servers/${imported.server.id}:export`);
    expect(await bodyOf(exported)).toEqual({ name: "io.github.acme/tool" });
  });

  it("deletes, then answers 404 in Google's error format", async () => {
    const del = await json("DELETE", `/v1/servers/${id}`);
    expect(del.status).toBe(200);
    expect(await bodyOf(del)).toEqual({});
    const gone = await json("GET", `/v1/servers/${id}`);
    expect(gone.status).toBe(404);
    expect(await bodyOf(gone)).toEqual({
      error: { code: 404, status: "NOT_FOUND", message: `server "${id}" not found`, details: [] },
    });
  });

  it("passes request headers to the implementation, but not the outer content-length", async () => {
    await json(
      "POST",
      "/v1/servers",
      { name: "headers" },
      { authorization: "Bearer k1", "x-correlation-id": "c-123" },
    );
    const header = registry.state.lastContext?.requestHeader;
    expect(header?.get("authorization")).toBe("Bearer k1");
    expect(header?.get("x-correlation-id")).toBe("c-123");
    expect(header?.get("content-length")).toBeNull();
    expect(registry.state.lastContext?.protocolName).toBe("rest");
  });

  it("streams server-streaming responses as newline-delimited JSON", async () => {
    const res = await json("GET", "/v1/instances/i1:watch");
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.instance.status)).toEqual([
      "INSTANCE_STATUS_PENDING",
      "INSTANCE_STATUS_STARTING",
      "INSTANCE_STATUS_RUNNING",
    ]);
    const broken = (await (await json("GET", "/v1/instances/broken:watch")).text())
      .trim()
      .split("\n");
    expect(broken).toHaveLength(4);
    expect(JSON.parse(broken[3]!)).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
  });

  it("aborts the call's signal when the client goes away", async () => {
    const res = await json("GET", "/v1/instances/forever:watch", undefined, {});
    const reader = res.body!.getReader();
    await reader.read();
    const signal = watchSignals.at(-1)!;
    expect(signal.aborted).toBe(false);
    await reader.cancel();
    for (let i = 0; i < 100 && !signal.aborted; i++) await new Promise((r) => setTimeout(r, 20));
    expect(signal.aborted).toBe(true);
  });
});

describe("REST errors", () => {
  it("INVALID_ARGUMENT from the implementation is 400 with the field violation", async () => {
    const res = await json("POST", "/v1/servers", { title: "no name" });
    expect(res.status).toBe(400);
    expect(await bodyOf(res)).toEqual({
      error: {
        code: 400,
        status: "INVALID_ARGUMENT",
        message: "server.name: required",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            fieldViolations: [{ field: "server.name", description: "required" }],
          },
        ],
      },
    });
  });

  it("a body field of the wrong type is 400 naming the field", async () => {
    const res = await json("POST", "/v1/servers", { name: "p", port: "http" });
    const body = await bodyOf(res);
    expect(res.status).toBe(400);
    expect(body.error.details[0].fieldViolations).toEqual([
      { field: "server.port", description: "expected a number (uint32)" },
    ]);
  });

  it("unknown routes are 404, wrong methods 405 with Allow", async () => {
    expect((await json("GET", "/v1/nothing")).status).toBe(404);
    const res = await json("PUT", "/v1/servers/x");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("DELETE, GET, PATCH");
    expect((await bodyOf(res)).error.code).toBe(405);
  });

  it("path tricks are 400", async () => {
    for (const path of ["/v1/servers/..%2Fsecrets", "/v1/servers/%2e%2e", "/v1//servers"]) {
      expect((await rawGet(path)).status, path).toBe(400);
    }
  });

  it("oversized bodies are 413, by content-length or while reading", async () => {
    const big = { name: "big", description: "x".repeat(100 * 1024) };
    const res = await json("POST", "/v1/servers", big);
    expect(res.status).toBe(413);
    expect((await bodyOf(res)).error.message).toBe("request body exceeds 65536 bytes");
    const chunked = await fetch(`${base}/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob([JSON.stringify(big)]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(registry.servers.size).toBeGreaterThan(0);
    expect([...registry.servers.values()].some((s) => s.name === "big")).toBe(false);
  });

  it("malformed JSON is 400 with the position", async () => {
    const res = await fetch(`${base}/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name": "x",}',
    });
    expect(res.status).toBe(400);
    expect((await bodyOf(res)).error.message).toBe("malformed JSON at position 13");
  });

  it("unknown query parameters are 400 naming the parameter", async () => {
    const res = await json("GET", "/v1/servers?page_size=2&colour=red");
    expect(res.status).toBe(400);
    const body = await bodyOf(res);
    expect(body.error.message).toBe('unknown query parameter "colour"');
    expect(body.error.details[0].fieldViolations[0].field).toBe("colour");
  });

  it("bodies that are not JSON are 415", async () => {
    const res = await fetch(`${base}/v1/servers`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "name=x",
    });
    expect(res.status).toBe(415);
  });

  it("unimplemented methods are 501", async () => {
    expect((await json("GET", "/v1/instances/i1")).status).toBe(501);
  });
});

describe("Connect and gRPC on the same port", () => {
  it("serves the Connect protocol over HTTP/1.1", async () => {
    const client = createClient(
      RegistryService,
      createConnectTransport({ baseUrl: base, httpVersion: "1.1" }),
    );
    const { server: created } = await client.createServer({ server: { name: "via-connect" } });
    const { server: fetched } = await client.getServer({ id: created!.id });
    expect(fetched?.name).toBe("via-connect");
    const rest = await bodyOf(await json("GET", `/v1/servers/${created!.id}`));
    expect(rest.name).toBe("via-connect");
  });

  it("serves gRPC over HTTP/2 cleartext, with the same errors", async () => {
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl: base }));
    const { servers } = await client.listServers({ pageSize: 100 });
    expect(servers.map((s) => s.name)).toContain("via-connect");
    await expect(client.getServer({ id: "missing" })).rejects.toMatchObject({ code: 5 });
    const instances = createClient(InstancesService, createGrpcTransport({ baseUrl: base }));
    const stream = instances.watchInstance({ id: "i9" });
    const statuses: InstanceStatus[] = [];
    for await (const message of stream) statuses.push(message.instance!.status);
    expect(statuses).toEqual([
      InstanceStatus.PENDING,
      InstanceStatus.STARTING,
      InstanceStatus.RUNNING,
    ]);
  });

  it("leaves the extra handler its paths", async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok");
  });

  it("answers a Connect body that is not protobuf with 400 invalid_argument, a valid one as usual", async () => {
    const call = (body: Uint8Array) =>
      fetch(`${base}/berth.registry.v1.RegistryService/GetServer`, {
        method: "POST",
        headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
        body,
      });
    const bad = await call(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      code: "invalid_argument",
      message: "the request body is not a valid protobuf message",
    });
    // field 1 (id), length 7, "missing": a real request, answered by the implementation.
    const good = await call(new Uint8Array([0x0a, 7, ...new TextEncoder().encode("missing")]));
    expect(good.status).toBe(404);
  });
});

describe("interceptors", () => {
  it("run for REST exactly as for Connect", async () => {
    const auth: Interceptor = (next) => async (req) => {
      if (req.header.get("authorization") !== "Bearer ok") {
        throw new ConnectError("missing credentials", Code.Unauthenticated);
      }
      return next(req);
    };
    const services = [{ service: RegistryService, impl: registry.impl }];
    const rest = createRestHandler({ services, interceptors: [auth], logger });
    const routes = (router: ConnectRouter) => router.service(RegistryService, registry.impl);
    const local = serve({ routes, rest, interceptors: [auth] });
    const url = `http://127.0.0.1:${await local.listen(0)}`;
    try {
      const denied = await fetch(`${url}/v1/servers`);
      expect(denied.status).toBe(401);
      expect((await bodyOf(denied)).error.status).toBe("UNAUTHENTICATED");
      const allowed = await fetch(`${url}/v1/servers`, { headers: { authorization: "Bearer ok" } });
      expect(allowed.status).toBe(200);
      const client = createClient(
        RegistryService,
        createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
      );
      await expect(client.listServers({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    } finally {
      await local.close();
    }
  });
});

describe("close", () => {
  it("lets in-flight calls finish, then stops accepting", async () => {
    const rest = createRestHandler({
      services: [{ service: RegistryService, impl: registry.impl }],
      logger,
    });
    const local = serve({ routes: () => {}, rest, closeTimeoutMs: 5_000 });
    const port = await local.listen(0);
    let release = () => {};
    registry.state.release = new Promise<void>((resolve) => (release = resolve));
    const inFlight = fetch(`http://127.0.0.1:${port}/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "slow" }),
    });
    for (
      let i = 0;
      i < 100 && registry.state.lastContext?.url.endsWith(`${port}/v1/servers`) !== true;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const closed = local.close();
    setTimeout(release, 100);
    expect((await inFlight).status).toBe(200);
    await closed;
    await expect(fetch(`http://127.0.0.1:${port}/v1/servers`)).rejects.toThrow();
  });
});
