import { randomBytes, randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { type PostgresHandle, startPostgres, useEngines, waitFor } from "@berth/testkit";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testLogger } from "../../../test/support/mesh.js";
import { type FakeInstance, startFakeLookup } from "./support/fake-lookup.js";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";

// Outages (issue 21): a Postgres of this file's own that the test stops, a real registry on it,
// and the instances and runtime lookups as real gRPC servers the test stops mid-call.
describe("outages answer 503 naming what is unavailable; the data plane outlives the control plane", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let dir: string;
  let postgres: PostgresHandle;
  let mesh: KeyedMesh;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let lookup: Awaited<ReturnType<typeof startFakeLookup>>;
  const instance: FakeInstance = {
    id: randomUUID(),
    name: "remote",
    state: WorkloadState.RUNNING,
    url: "",
    headers: {},
  };
  const bearer =
    (key: string): Interceptor =>
    (next) =>
    (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    };

  beforeAll(async () => {
    engines = await useEngines();
    dir = await mkdtemp(join(tmpdir(), "berth-outage-"));
    await chmod(dir, 0o755); // Postgres runs as the postgres user when we are root.
    postgres = await startPostgres({
      dataDir: join(dir, "postgres"),
      password: randomBytes(18).toString("base64url"),
    });
    everything = await startEverythingServer();
    instance.url = everything.url;
    lookup = await startFakeLookup([instance], testLogger("lookup"));
    mesh = await startKeyedMesh(
      { ...engines, databaseUrl: postgres.url },
      {
        services: ["registry"],
        env: {
          INSTANCES_ADDR: lookup.instancesAddr,
          RUNTIME_ADDR: lookup.runtimeAddr,
          MCP_RESOLVE_CACHE_MS: "200",
          API_KEY_CACHE_MS: "600000",
        },
      },
    );
  });
  afterAll(async () => {
    await mesh?.stop();
    await lookup?.stop();
    await everything?.stop();
    await postgres?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await engines?.cleanup();
  });

  const connectMcp = async () => {
    const transport = new StreamableHTTPClientTransport(
      new URL(`${mesh.gateway.url}/mcp/${instance.name}`),
      { requestInit: { headers: { authorization: `Bearer ${mesh.adminKey}` } } },
    );
    const client = new Client({ name: "outage-test", version: "1.0.0" });
    await client.connect(transport);
    return client;
  };
  const echo = async (client: Client, message: string) =>
    (await client.callTool({ name: "echo", arguments: { message } })).content;

  it("answers 503 with Retry-After when a backend is lost in the middle of a call", async () => {
    const client = await connectMcp(); // Resolved while the control plane is up.
    try {
      const inFlight = mesh.rest("GET", "/v1/instances");
      await waitFor(
        "the call to reach the instances service",
        async () => (lookup.calls.list > 0 ? true : undefined),
        10_000,
        20,
      );
      await lookup.stop(); // The instances and runtime services go away; the call is cut.
      const response = await inFlight;
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      const body = (await response.json()) as { error: { status: string; message: string } };
      expect(body.error).toMatchObject({
        status: "UNAVAILABLE",
        message: "the instances service is unavailable",
      });

      // The data plane outlives the control plane: calls keep reaching the last known endpoint,
      // well past the lookup cache's lifetime, on the open session and on a new one.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (let i = 0; i < 3; i++) {
        expect(await echo(client, `still here ${i}`)).toEqual([
          { type: "text", text: `Echo: still here ${i}` },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const second = await connectMcp();
      expect(await echo(second, "new session")).toEqual([
        { type: "text", text: "Echo: new session" },
      ]);
      await second.close();

      // While an instance never resolved before cannot be served: 503 naming the service.
      const unknown = await fetch(`${mesh.gateway.url}/mcp/never-seen`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${mesh.adminKey}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
      expect(unknown.status).toBe(503);
      expect(unknown.headers.get("retry-after")).toBe("1");
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe(
        "the instances service is unavailable",
      );
    } finally {
      await client.close();
    }
  });

  it("answers 503 UNAVAILABLE 'the database is unavailable' on REST, Connect and gRPC while Postgres is down", async () => {
    const reader = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    expect((await mesh.rest("GET", "/v1/servers", undefined, reader.key)).status).toBe(200);
    expect((await fetch(`${mesh.gateway.url}/readyz`)).status).toBe(503); // Lookups are gone.
    await postgres.stop();

    const response = await mesh.rest("GET", "/v1/servers", undefined, reader.key);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    const body = (await response.json()) as { error: { status: string; message: string } };
    expect(body.error).toMatchObject({
      status: "UNAVAILABLE",
      message: "the database is unavailable",
    });

    const interceptors = [bearer(reader.key)];
    for (const transport of [
      createConnectTransport({ baseUrl: mesh.gateway.url, httpVersion: "1.1", interceptors }),
      createGrpcTransport({ baseUrl: mesh.gateway.url, interceptors }),
    ]) {
      const registry = createClient(RegistryService, transport);
      const failure = await registry
        .listServers({})
        .catch((error: unknown) => ConnectError.from(error));
      expect(failure).toBeInstanceOf(ConnectError);
      expect((failure as ConnectError).code).toBe(Code.Unavailable);
      expect((failure as ConnectError).rawMessage).toBe("the database is unavailable");
    }

    // A key the gateway has not verified yet needs the gateway's own database: 503 too, not 500.
    const unverified = await mesh.rest(
      "GET",
      "/v1/servers",
      undefined,
      `${reader.key.slice(0, -1)}x`,
    );
    expect(unverified.status).toBe(503);
    expect(unverified.headers.get("retry-after")).toBe("1");

    const ready = await fetch(`${mesh.gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    const readiness = (await ready.json()) as { services: Record<string, string> };
    expect(readiness.services.database).toBe("NOT_SERVING");
  });
});
