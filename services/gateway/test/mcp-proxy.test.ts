import { randomUUID } from "node:crypto";
import {
  connectNats,
  createEnvelope,
  encodeEnvelope,
  ensureStreams,
  subjectFor,
} from "@berth/platform";
import { McpServerInstanceStatusChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testLogger } from "../../../test/support/mesh.js";
import { type FakeInstance, startFakeLookup } from "./support/fake-lookup.js";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";
import { startEverythingServer, startRecordingTap } from "./support/mcp-upstream.js";

// The MCP traffic is real (official SDK client → gateway → @modelcontextprotocol/server-everything);
// only the runtime's endpoint lookup is a test double until the runtime service lands.
const INSTANCE_TOKEN = "instance-credential-7f3a";
type JsonRpcError = { jsonrpc: string; error: { code: number; message: string }; id: null };

describe("MCP proxy at /mcp/{instance}", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let tap: Awaited<ReturnType<typeof startRecordingTap>>;
  let lookup: Awaited<ReturnType<typeof startFakeLookup>>;
  let mcpKey: string;
  const running: FakeInstance = {
    id: randomUUID(),
    name: "everything",
    state: WorkloadState.RUNNING,
    url: "",
    headers: {},
  };
  const stopped: FakeInstance = {
    id: randomUUID(),
    name: "stopped-one",
    state: WorkloadState.STOPPED,
    url: "",
    headers: {},
  };
  const gone: FakeInstance = {
    id: randomUUID(),
    name: "gone",
    state: WorkloadState.RUNNING,
    url: "http://127.0.0.1:1/mcp",
    headers: {},
  };
  // A container whose bridge (the runtime's) does not answer: the runtime is restarting it.
  const goneContainer: FakeInstance = {
    id: randomUUID(),
    name: "gone-container",
    state: WorkloadState.RUNNING,
    url: "http://127.0.0.1:1/mcp",
    headers: {},
    driver: "docker",
  };

  beforeAll(async () => {
    engines = await useEngines();
    // The producing services create the streams; none runs here, so the test does.
    const streams = await connectNats(engines.natsUrl, "streams");
    await ensureStreams(streams);
    await streams.close();
    everything = await startEverythingServer();
    tap = await startRecordingTap(everything.url);
    Object.assign(running, {
      url: tap.url,
      headers: { authorization: `Bearer ${INSTANCE_TOKEN}` },
    });
    lookup = await startFakeLookup([running, stopped, gone, goneContainer], testLogger("lookup"));
    mesh = await startKeyedMesh(engines, {
      services: [],
      // A long cache: only the instance's change event can explain a fresh lookup.
      env: {
        INSTANCES_ADDR: lookup.instancesAddr,
        RUNTIME_ADDR: lookup.runtimeAddr,
        MCP_RESOLVE_CACHE_MS: "600000",
      },
    });
    mcpKey = (await createKey(mesh, { scopes: ["API_KEY_SCOPE_MCP"], instances: ["everything"] }))
      .key;
  });
  afterAll(async () => {
    await mesh?.stop();
    await lookup?.stop();
    await tap?.stop();
    await everything?.stop();
    await engines?.cleanup();
  });

  const connectClient = async (ref: string, key: string) => {
    const transport = new StreamableHTTPClientTransport(new URL(`${mesh.gateway.url}/mcp/${ref}`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: "berth-test", version: "1.0.0" });
    await client.connect(transport);
    return { client, transport };
  };
  const post = (
    ref: string,
    key: string | null,
    body: unknown = { jsonrpc: "2.0", id: 1, method: "ping" },
  ) =>
    fetch(`${mesh.gateway.url}/mcp/${ref}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify(body),
    });

  it("lists tools, calls echo and streams progress of a long-running tool through the gateway", async () => {
    const { client } = await connectClient("everything", mcpKey);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toContain("echo");
      expect(names).toContain("trigger-long-running-operation");

      const echoed = await client.callTool({
        name: "echo",
        arguments: { message: "hello through berth" },
      });
      expect(echoed.content).toEqual([{ type: "text", text: "Echo: hello through berth" }]);

      const progress: Array<{ progress: number; total?: number }> = [];
      const result = await client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } },
        undefined,
        { onprogress: (p) => progress.push({ progress: p.progress, total: p.total }) },
      );
      expect(progress).toEqual([1, 2, 3, 4].map((n) => ({ progress: n, total: 4 })));
      expect(JSON.stringify(result.content)).toContain("Long running operation completed");
    } finally {
      await client.close();
    }
  });

  it("sends the instance's credential upstream, never the caller's", async () => {
    const seen = tap.seen.length;
    const { client } = await connectClient(running.id, mcpKey); // By id this time.
    await client.listTools();
    await client.close();
    const headers = tap.seen.slice(seen);
    expect(headers.length).toBeGreaterThan(0);
    for (const h of headers) {
      expect(h.authorization).toBe(`Bearer ${INSTANCE_TOKEN}`);
      expect(h["x-api-key"]).toBeUndefined();
      expect(JSON.stringify(h)).not.toContain(mcpKey);
    }
  });

  it("keeps the session: its id comes back, GET opens the event stream, DELETE ends it", async () => {
    const base = {
      authorization: `Bearer ${mcpKey}`,
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
    };
    const init = await fetch(`${mesh.gateway.url}/mcp/everything`, {
      method: "POST",
      headers: base,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "1" },
        },
      }),
    });
    expect(init.status).toBe(200);
    const sessionId = init.headers.get("mcp-session-id");
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await init.text()).toContain('"serverInfo"');
    const headers = { ...base, "mcp-session-id": sessionId!, "mcp-protocol-version": "2025-06-18" };
    const initialized = await fetch(`${mesh.gateway.url}/mcp/everything`, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    expect(initialized.status).toBe(202);

    // The stream stays open: getting its headers proves nothing waits for the end of it.
    const abort = new AbortController();
    const stream = await fetch(`${mesh.gateway.url}/mcp/everything`, {
      headers: { ...headers, accept: "text/event-stream" },
      signal: abort.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    abort.abort();

    const ended = await fetch(`${mesh.gateway.url}/mcp/everything`, { method: "DELETE", headers });
    expect(ended.status).toBe(200);
    const after = await fetch(`${mesh.gateway.url}/mcp/everything`, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    // The session is gone upstream (server-everything answers 400, the spec says 404).
    expect([400, 404]).toContain(after.status);
    expect(await after.text()).toMatch(/session/i);
  });

  it("answers a stopped, an unknown and an unreachable instance with a JSON-RPC error at once", async () => {
    const admin = mesh.adminKey;
    const cases: Array<[string, number, string]> = [
      ["stopped-one", 503, 'instance "stopped-one" is not running (STOPPED)'],
      ["no-such-instance", 404, 'instance "no-such-instance" not found'],
      ["gone", 502, "the instance's MCP endpoint did not answer"],
      ["gone-container", 503, "the instance's workload is not reachable now; retry shortly"],
    ];
    for (const [ref, status, message] of cases) {
      const response = await post(ref, admin);
      expect(response.status, ref).toBe(status);
      if (ref === "gone-container") expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
      const body = (await response.json()) as JsonRpcError;
      expect(body).toEqual({ jsonrpc: "2.0", error: { code: -32001, message }, id: null });
    }
    await expect(connectClient("stopped-one", admin)).rejects.toThrow(/503|not running/);
  });

  it("needs the mcp scope and, for a limited key, an instance on its list", async () => {
    const reader = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ", "API_KEY_SCOPE_WRITE"] });
    const cases: Array<[string, string | null, number, RegExp]> = [
      ["everything", null, 401, /API key is required/],
      ["everything", "berth_0123456789abcdef_not-a-real-secret-but-well-formed", 401, /not valid/],
      ["everything", reader.key, 403, /lacks the mcp scope/],
      ["stopped-one", mcpKey, 403, /may not use instance "stopped-one"/],
      ["no-such-instance", mcpKey, 403, /may not use instance/],
    ];
    for (const [ref, key, status, message] of cases) {
      const response = await post(ref, key);
      expect(response.status).toBe(status);
      const body = (await response.json()) as JsonRpcError;
      expect(body.error.message).toMatch(message);
      expect(body.jsonrpc).toBe("2.0");
    }
    const wrongMethod = await fetch(`${mesh.gateway.url}/mcp/everything`, { method: "PUT" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST, GET, DELETE");
  });

  it("drops a cached endpoint when the instance changes", async () => {
    const ok = await post("everything", mcpKey);
    expect(ok.status).toBe(400); // A ping without a session: the MCP server itself answers.
    running.state = WorkloadState.STOPPED;
    const nc = await connectNats(engines.natsUrl, "test-events");
    try {
      const envelope = createEnvelope({
        schema: McpServerInstanceStatusChangedSchema,
        payload: create(McpServerInstanceStatusChangedSchema, { instanceId: running.id }),
        aggregateType: "McpServerInstance",
        aggregateId: running.id,
        aggregateVersion: 2,
        source: "runtime",
      });
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline) {
        nc.publish(
          subjectFor("berth.events.v1.McpServerInstanceStatusChanged"),
          encodeEnvelope(envelope),
        );
        await nc.flush();
        status = (await post("everything", mcpKey)).status;
        if (status === 503) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(503);
    } finally {
      running.state = WorkloadState.RUNNING;
      await nc.close();
    }
  });
});
