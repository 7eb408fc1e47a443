import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { toGrpcServiceDefinition } from "@berth/platform";
import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { credentials, Metadata, makeGenericClientConstructor, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

const run = promisify(execFile);
type UnaryCall = (
  request: object,
  metadata: Metadata,
  callback: (error: (Error & { code?: number }) | null, value: unknown) => void,
) => void;

/** curl, as a person would type it; returns the HTTP status and the body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run("curl", ["-s", "-w", "\n%{http_code}", ...args], {
    timeout: 20_000,
  });
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

describe("one port: curl, Connect, gRPC-Web and grpc-js against the same address", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  const bearer =
    (key: string): Interceptor =>
    (next) =>
    (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    };

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines);
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  it("creates with curl, then reads with Connect, gRPC-Web and grpc-js", async () => {
    const auth = `authorization: Bearer ${mesh.adminKey}`;
    const created = await curl([
      "-X",
      "POST",
      `${mesh.gateway.url}/v1/servers`,
      "-H",
      auth,
      "-H",
      "content-type: application/json",
      "-d",
      '{"name":"one-port","title":"One port","transport":"TRANSPORT_STDIO"}',
    ]);
    expect(created.status).toBe(200);
    const { id } = JSON.parse(created.body) as { id: string };
    const got = await curl([`${mesh.gateway.url}/v1/servers/one-port`, "-H", auth]);
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toMatchObject({ id, title: "One port" });

    for (const transport of [
      createConnectTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "1.1",
        interceptors: [bearer(mesh.adminKey)],
      }),
      createConnectTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "2",
        interceptors: [bearer(mesh.adminKey)],
      }),
      createGrpcWebTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "1.1",
        interceptors: [bearer(mesh.adminKey)],
      }),
    ]) {
      const client = createClient(RegistryService, transport);
      expect((await client.getServer({ id })).server?.name).toBe("one-port");
    }

    const GrpcClient = makeGenericClientConstructor(
      toGrpcServiceDefinition(RegistryService),
      "RegistryService",
    );
    const grpc = new GrpcClient(
      mesh.gateway.url.replace("http://", ""),
      credentials.createInsecure(),
    );
    try {
      const call = (metadata: Metadata) =>
        new Promise<{
          error: (Error & { code?: number }) | null;
          value?: { server?: { title: string } };
        }>((resolve) => {
          (grpc as unknown as { getServer: UnaryCall }).getServer(
            { id },
            metadata,
            (error, value) => resolve({ error, value: value as never }),
          );
        });
      const withKey = new Metadata();
      withKey.set("authorization", `Bearer ${mesh.adminKey}`);
      const ok = await call(withKey);
      expect(ok.error).toBeNull();
      expect(ok.value?.server?.title).toBe("One port");
      const denied = await call(new Metadata());
      expect(denied.error?.code).toBe(status.UNAUTHENTICATED);
    } finally {
      grpc.close();
    }
  });

  it("refuses calls without a key, or with too little scope, on every protocol", async () => {
    const reader = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    const anonymous = createClient(
      RegistryService,
      createConnectTransport({ baseUrl: mesh.gateway.url, httpVersion: "1.1" }),
    );
    await expect(anonymous.listServers({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    const readOnly = createClient(
      RegistryService,
      createGrpcWebTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "1.1",
        interceptors: [bearer(reader.key)],
      }),
    );
    await expect(readOnly.listServers({})).resolves.toBeDefined();
    await expect(readOnly.createServer({ server: { name: "nope" } })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    const keys = createClient(
      ApiKeysService,
      createConnectTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "2",
        interceptors: [bearer(reader.key)],
      }),
    );
    await expect(keys.listApiKeys({})).rejects.toMatchObject({ code: Code.PermissionDenied });
  });

  it("keeps internal methods internal: ResolveEndpoint is not served to callers", async () => {
    const runtime = createClient(
      RuntimeService,
      createConnectTransport({
        baseUrl: mesh.gateway.url,
        httpVersion: "1.1",
        interceptors: [bearer(mesh.adminKey)],
      }),
    );
    const error = await runtime
      .resolveEndpoint({ instanceId: "x" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.Unimplemented });
  });

  it("passes an upstream error on with its code and message, without the upstream's transport headers", async () => {
    const response = await fetch(
      `${mesh.gateway.url}/berth.registry.v1.RegistryService/GetServer`,
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${mesh.adminKey}` },
        body: JSON.stringify({ id: "no-such-server" }),
      },
    );
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("grpc-status")).toBeNull();
    expect(await response.json()).toEqual({
      code: "not_found",
      message: 'server "no-such-server" not found',
    });
  });

  it("answers 429 with Retry-After over Connect too", async () => {
    const slow = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_READ"],
      rateLimitPerSecond: 0.1,
      rateLimitBurst: 1,
    });
    const request = () =>
      fetch(`${mesh.gateway.url}/berth.registry.v1.RegistryService/ListServers`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${slow.key}` },
        body: "{}",
      });
    expect((await request()).status).toBe(200);
    const limited = await request();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ code: "resource_exhausted" });
  });
});
