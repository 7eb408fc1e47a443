import { useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";
import {
  ensureImages,
  newRunId,
  removeLeftovers,
  waitFor,
} from "../../runtime/test/support/runtime-harness.js";

// The whole path an agent takes: official MCP SDK client → gateway /mcp/{instance} → runtime's
// stdio bridge → a hardened container running the reference server. Nothing here is a stand-in.
describe("MCP proxy to an instance run by the real runtime", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  const rest = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as Record<string, unknown>;
  };
  const connect = async (instance: string, apiKey = mesh.apiKey) => {
    const client = new Client({ name: "berth-proxy-test", version: "1.0.0" });
    const url = new URL(`${mesh.gateway.url}/mcp/${instance}`);
    const headers = { authorization: `Bearer ${apiKey}` };
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }), {
      timeout: 15_000,
    });
    return client;
  };

  it("lists tools, calls one and streams progress from the starter catalog's stdio server", async () => {
    const created = await rest("POST", "/v1/instances", {
      instance: {
        name: "everything-proxied",
        serverId: "io.github.modelcontextprotocol/everything",
        jsonSpec: { health_check: { interval: 2, timeout: 2 } },
      },
    });
    expect(created).toMatchObject({ status: "INSTANCE_STATUS_PENDING" });
    const id = created.id as string;
    await waitFor(
      "RUNNING",
      async () =>
        (await rest("GET", `/v1/instances/${id}`)).status === "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      60_000,
    );

    const byName = await connect("everything-proxied");
    const tools = (await byName.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(["echo", "trigger-long-running-operation"]));
    const echoed = await byName.callTool({
      name: "echo",
      arguments: { message: "through the gateway" },
    });
    expect(echoed.content).toEqual([{ type: "text", text: "Echo: through the gateway" }]);
    const progress: number[] = [];
    await byName.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress), timeout: 20_000 },
    );
    expect(progress).toEqual([1, 2, 3]);

    // A second client by id shares the same server process and gets its own answers.
    const byId = await connect(id);
    const [a, b] = await Promise.all([
      byName.callTool({ name: "echo", arguments: { message: "a" } }),
      byId.callTool({ name: "echo", arguments: { message: "b" } }),
    ]);
    expect([a.content, b.content]).toEqual([
      [{ type: "text", text: "Echo: a" }],
      [{ type: "text", text: "Echo: b" }],
    ]);
    await byName.close();
    await byId.close();

    // Stopped: a clear JSON-RPC error at once, not a hang.
    await rest("POST", `/v1/instances/${id}:stop`, {});
    await waitFor(
      "STOPPED",
      async () =>
        (await rest("GET", `/v1/instances/${id}`)).status === "INSTANCE_STATUS_STOPPED"
          ? true
          : undefined,
      60_000,
    );
    const refused = await fetch(`${mesh.gateway.url}/mcp/everything-proxied`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${mesh.apiKey}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const body = (await refused.json()) as { jsonrpc: string; error: { message: string } };
    expect(body.jsonrpc).toBe("2.0");
    expect(body.error.message).toMatch(/not running|stopped/i);

    await rest("DELETE", `/v1/instances/${id}`);
  }, 180_000);
  it("reaches an HTTP-transport container through its port guard; egress is the catalog's to grant", async () => {
    const server = await rest("POST", "/v1/servers", {
      name: "everything-http-guarded",
      image: "berth/mcp-everything:http",
      transport: "TRANSPORT_STREAMABLE_HTTP",
      port: 3001,
      path: "/mcp",
    });
    expect(server).toMatchObject({ name: "everything-http-guarded" });
    expect(server.networkEgress ?? false).toBe(false);
    // An instance cannot ask for egress its catalog entry does not grant.
    const refused = await rest("POST", "/v1/instances", {
      instance: {
        name: "guarded-egress",
        serverId: "everything-http-guarded",
        jsonSpec: { network_egress: true },
      },
    });
    expect(JSON.stringify(refused)).toContain("json_spec.network_egress");

    const created = await rest("POST", "/v1/instances", {
      instance: {
        name: "guarded-http",
        serverId: "everything-http-guarded",
        jsonSpec: { health_check: { interval: 2, timeout: 5 } },
      },
    });
    const id = created.id as string;
    expect((created.jsonSpec as Record<string, unknown>).network_egress).toBeUndefined();
    await waitFor(
      "RUNNING",
      async () =>
        (await rest("GET", `/v1/instances/${id}`)).status === "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      90_000,
    );
    const mcp = await connect("guarded-http");
    const echoed = await mcp.callTool({ name: "echo", arguments: { message: "past the guard" } });
    expect(echoed.content).toEqual([{ type: "text", text: "Echo: past the guard" }]);
    await mcp.close();
    await rest("DELETE", `/v1/instances/${id}`);
  }, 180_000);
});
