import { randomBytes, randomUUID } from "node:crypto";
import { loadConfig } from "@berth/platform";
import { AuditRecordKind, createBerthClient, McpCallOutcome } from "@berth/sdk";
import { useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../../../packages/cli/test/support/run-berth.js";
import { serviceMeshEnv, startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { newRunId, removeLeftovers, waitFor } from "../../runtime/test/support/runtime-harness.js";
import { type Gateway, gatewayEnv, startGateway } from "../src/index.js";
import { memoryLogger } from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";
import { digest, sample } from "./support/metrics-text.js";

type Json = Record<string, unknown>;
type AuditRecord = {
  id: string;
  kind: string;
  actorKeyId?: string;
  actorKeyName?: string;
  mcpCall?: Json & { method?: string; tool?: string; outcome?: string; errorCode?: string };
  change?: Json & { resourceType?: string; action?: string; resourceName?: string };
};

// The whole chain with real parts: official MCP SDK client → a gateway whose log is captured →
// a url instance run by the real runtime → @modelcontextprotocol/server-everything; changes made
// through the API reach the audit trail as the registry's and instances service's events.
describe("audit trail", () => {
  const runId = newRunId();
  const secretA = `arg-alice-${randomBytes(8).toString("hex")}`;
  const secretB = `arg-bob-${randomBytes(8).toString("hex")}`;
  const logLines: string[] = [];
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let gateway: Gateway;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let db: pg.Client;

  const rest = async (method: string, path: string, key: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const records = async (query: string, key = mesh.apiKey): Promise<AuditRecord[]> => {
    const { status, body } = await rest("GET", `/v1/auditRecords?${query}`, key);
    expect(status, JSON.stringify(body)).toBe(200);
    return (body.auditRecords ?? []) as AuditRecord[];
  };
  const createKey = async (displayName: string, scopes: string[]) => {
    const { status, body } = await rest("POST", "/v1/apiKeys", mesh.apiKey, {
      displayName,
      scopes,
    });
    expect(status).toBe(200);
    return { id: (body.apiKey as Json).id as string, key: body.key as string };
  };
  const scrape = async (key?: string) => {
    const response = await fetch(`${gateway.url}/metrics`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    return { status: response.status, text: await response.text() };
  };
  const connect = async (key: string) => {
    const client = new Client({ name: "audit-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/audited`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    return client;
  };

  beforeAll(async () => {
    engines = await useEngines();
    everything = await startEverythingServer();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: {
        BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
        RECONCILE_INTERVAL_MS: "2000",
        METRICS_PORT: "0",
      },
    });
    // A second gateway on the same schema, its log in memory (at debug: every line it writes).
    gateway = await startGateway(
      loadConfig(gatewayEnv, {
        ...mesh.env,
        ...serviceMeshEnv("gateway", engines),
        BERTH_AUDIT_RETENTION_DAYS: "1",
        BERTH_AUDIT_RETENTION_INTERVAL_MS: "500",
      }),
      memoryLogger(logLines),
    );
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await gateway?.stop();
    await mesh?.stop();
    await everything?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("records every MCP call with its key, method, tool and outcome, and never an argument value", async () => {
    const alice = await createKey("alice", ["API_KEY_SCOPE_MCP", "API_KEY_SCOPE_WRITE"]);
    const bob = await createKey("bob", ["API_KEY_SCOPE_MCP"]);
    const created = await rest("POST", "/v1/instances", alice.key, {
      instance: { name: "audited", jsonSpec: { type: "url", endpoint: everything.url } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const instanceId = created.body.id as string;
    await waitFor(
      "instance RUNNING",
      async () =>
        (await rest("GET", `/v1/instances/${instanceId}`, alice.key)).body.status ===
        "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      60_000,
    );

    const scraper = await createKey("prometheus", ["API_KEY_SCOPE_METRICS"]);
    const echoLabels = { instance: "audited", method: "tools/call", tool: "echo", outcome: "ok" };
    const before = await scrape(scraper.key);
    expect(before.status).toBe(200);

    const a = await connect(alice.key);
    const echoed = await a.callTool({ name: "echo", arguments: { message: secretA } });
    expect(echoed.content).toEqual([{ type: "text", text: `Echo: ${secretA}` }]);
    const missing = await a.callTool({ name: "no-such-tool", arguments: { x: secretA } }).then(
      (result) => ({ result }),
      (error: Error) => ({ error }),
    );
    await a.close();
    const b = await connect(bob.key);
    await b.callTool({ name: "echo", arguments: { message: secretB } });
    await b.close();

    // /metrics moved with the calls: two echo calls, one failed call, two sessions opened.
    const after = await scrape(scraper.key);
    expect(
      sample(after.text, "berth_mcp_calls_total", echoLabels) -
        sample(before.text, "berth_mcp_calls_total", echoLabels),
    ).toBe(2);
    const failedLabels = { instance: "audited", tool: "no-such-tool" };
    expect(sample(after.text, "berth_mcp_calls_total", failedLabels)).toBe(1);
    expect(
      sample(after.text, "berth_mcp_call_duration_seconds_count", {
        instance: "audited",
        method: "tools/call",
      }),
    ).toBe(3);
    expect(
      sample(after.text, "berth_mcp_calls_total", { method: "initialize", outcome: "ok" }) -
        sample(before.text, "berth_mcp_calls_total", { method: "initialize", outcome: "ok" }),
    ).toBe(2);
    expect(after.text).toContain("process_cpu_seconds_total");
    expect(after.text).toContain(
      'berth_event_consumer_pending{stream="BERTH_INSTANCES",consumer="gateway-audit"',
    );
    // The scraper's key reads metrics and nothing else; without a key, or with an mcp key, no metrics.
    expect((await rest("GET", "/v1/auditRecords", scraper.key)).status).toBe(403);
    expect((await scrape()).status).toBe(401);
    expect((await scrape(bob.key)).status).toBe(403);

    // Written in batches: they appear within moments.
    const calls = await waitFor(
      "three tools/call records",
      async () => {
        const found = await records(
          `instance=audited&kind=AUDIT_RECORD_KIND_MCP_CALL&pageSize=100`,
        );
        return found.filter((r) => r.mcpCall?.method === "tools/call").length >= 3
          ? found
          : undefined;
      },
      10_000,
    );
    const toolCalls = calls.filter((r) => r.mcpCall?.method === "tools/call");
    const aliceEcho = toolCalls.find(
      (r) => r.actorKeyId === alice.id && r.mcpCall?.tool === "echo",
    );
    expect(aliceEcho).toMatchObject({
      actorKeyName: "alice",
      kind: "AUDIT_RECORD_KIND_MCP_CALL",
      mcpCall: {
        instanceId,
        instanceName: "audited",
        outcome: "MCP_CALL_OUTCOME_OK",
        argumentsDigest: digest({ message: secretA }),
      },
    });
    const bobEcho = toolCalls.find((r) => r.actorKeyId === bob.id);
    expect(bobEcho).toMatchObject({
      actorKeyName: "bob",
      mcpCall: {
        tool: "echo",
        outcome: "MCP_CALL_OUTCOME_OK",
        argumentsDigest: digest({ message: secretB }),
      },
    });
    // An unknown tool: the server's answer (a JSON-RPC error, or a result flagged isError).
    const failed = toolCalls.find((r) => r.mcpCall?.tool === "no-such-tool");
    if ("error" in missing) {
      expect(failed?.mcpCall).toMatchObject({ outcome: "MCP_CALL_OUTCOME_ERROR" });
      expect(failed?.mcpCall?.errorCode).toMatch(/^-32\d{3}$/);
    } else {
      expect(missing.result.isError).toBe(true);
      expect(failed?.mcpCall).toMatchObject({ outcome: "MCP_CALL_OUTCOME_TOOL_ERROR" });
    }
    expect(failed?.actorKeyId).toBe(alice.id);
    // The session's other messages are there too, by the same keys.
    const methods = calls.filter((r) => r.actorKeyId === alice.id).map((r) => r.mcpCall?.method);
    expect(methods).toEqual(expect.arrayContaining(["initialize", "notifications/initialized"]));

    // The SDK reads the same trail (Connect), and the CLI prints it.
    const sdk = createBerthClient({ baseUrl: gateway.url, apiKey: mesh.apiKey });
    const viaSdk = await sdk.audit.listAuditRecords({
      instance: "audited",
      kind: AuditRecordKind.MCP_CALL,
      outcome: McpCallOutcome.OK,
      tool: "echo",
    });
    expect(
      viaSdk.auditRecords.map((r) => [r.actorKeyName, r.mcpCall?.argumentsDigest]).sort(),
    ).toEqual([
      ["alice", digest({ message: secretA })],
      ["bob", digest({ message: secretB })],
    ]);
    const printed = await runBerth(
      [
        "audit",
        "list",
        "--instance",
        "audited",
        "--kind",
        "call",
        "--since",
        "10m",
        "--tool",
        "echo",
      ],
      { url: gateway.url, apiKey: mesh.apiKey, timeoutMs: 60_000 },
    );
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout.split("\n")[0]).toMatch(
      /^TIME\s+KEY\s+KIND\s+INSTANCE\s+WHAT\s+OUTCOME\s+MS$/,
    );
    expect(printed.stdout).toMatch(
      new RegExp(`alice \\(${alice.id}\\)\\s+call\\s+audited\\s+tools/call echo\\s+ok`),
    );
    expect(printed.stdout).toMatch(/bob \([0-9a-f]{16}\)\s+call\s+audited\s+tools\/call echo\s+ok/);
    const wrong = await runBerth(["audit", "list", "--outcome", "fine"], {
      url: gateway.url,
      apiKey: mesh.apiKey,
      timeoutMs: 60_000,
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(
      "--outcome must be one of ok, error, tool-error, refused, failed",
    );

    // Filters: one key's calls only, one tool, one outcome; paging one record at a time.
    const bobs = await records(`actorKeyId=${bob.id}&kind=AUDIT_RECORD_KIND_MCP_CALL`);
    expect(bobs.length).toBeGreaterThan(0);
    expect(bobs.every((r) => r.actorKeyId === bob.id)).toBe(true);
    const echoes = await records(`tool=echo&outcome=MCP_CALL_OUTCOME_OK`);
    expect(echoes.map((r) => r.actorKeyId).sort()).toEqual([alice.id, bob.id].sort());
    const first = await rest("GET", `/v1/auditRecords?tool=echo&pageSize=1`, mesh.apiKey);
    const token = first.body.nextPageToken as string;
    expect(token).toBeTruthy();
    const second = await rest(
      "GET",
      `/v1/auditRecords?tool=echo&pageSize=1&pageToken=${token}`,
      mesh.apiKey,
    );
    expect((second.body.auditRecords as AuditRecord[])[0]?.id).not.toBe(
      (first.body.auditRecords as AuditRecord[])[0]?.id,
    );
    // A token is bound to its filters.
    const mixed = await rest("GET", `/v1/auditRecords?tool=other&pageToken=${token}`, mesh.apiKey);
    expect(mixed.status).toBe(400);

    // Only admins read the trail; a bad filter names its field.
    expect((await rest("GET", "/v1/auditRecords", bob.key)).status).toBe(403);
    const bad = await rest("GET", "/v1/auditRecords?pageSize=-1", mesh.apiKey);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("page_size");

    // No argument value in the trail, in the gateway's database, or in any line it logged.
    const everythingStored = await records("pageSize=500");
    const dump = await db.query(`select * from gateway.audit_records`);
    for (const secret of [secretA, secretB]) {
      expect(JSON.stringify(everythingStored)).not.toContain(secret);
      expect(JSON.stringify(dump.rows)).not.toContain(secret);
      expect(logLines.join("\n")).not.toContain(secret);
    }
    expect(logLines.length).toBeGreaterThan(0);

    // Changes, with the key behind each: the instance created, updated and deleted by alice.
    const updated = await rest("PATCH", `/v1/instances/${instanceId}`, alice.key, {
      instance: { description: "audited instance" },
      updateMask: "description",
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect((await rest("DELETE", `/v1/instances/${instanceId}`, alice.key)).status).toBe(200);
    const changes = await waitFor(
      "created, updated and deleted",
      async () => {
        const found = await records(
          `kind=AUDIT_RECORD_KIND_CHANGE&resourceType=McpServerInstance&instance=${instanceId}`,
        );
        const actions = found.map((r) => r.change?.action);
        return ["created", "updated", "deleted"].every((a) => actions.includes(a))
          ? found
          : undefined;
      },
      15_000,
    );
    for (const record of changes) {
      expect(record.actorKeyId).toBe(alice.id);
      expect(record.change?.resourceName).toBe("audited");
    }
    const update = changes.find((r) => r.change?.action === "updated");
    expect(update?.change).toMatchObject({
      revisionBefore: "1",
      revisionAfter: "2",
      source: "instances",
    });
    expect(update?.change?.changedFields).toContain("description");
    // The keys' creation, by the admin key.
    const adminId = mesh.apiKey.split("_")[1];
    const keys = await records(`resourceType=ApiKey&actorKeyId=${adminId}`);
    expect(keys.map((r) => r.change?.resourceName)).toEqual(
      expect.arrayContaining(["alice", "bob"]),
    );
    expect(keys.every((r) => r.change?.action === "created")).toBe(true);
  }, 180_000);

  it("serves /metrics on every internal service: runtime workloads and reconcile passes, consumer lag", async () => {
    const text = async (port: number | undefined) => {
      expect(port).toBeGreaterThan(0);
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/plain");
      return response.text();
    };
    type WithMetrics = { metricsPort?: number };
    const created = await rest("POST", "/v1/instances", mesh.apiKey, {
      instance: { name: "measured", jsonSpec: { type: "url", endpoint: everything.url } },
    });
    expect(created.status).toBe(200);
    const runtimePort = (mesh.services.runtime as WithMetrics).metricsPort;
    const runtime = await waitFor(
      "a RUNNING workload counted",
      async () => {
        const found = await text(runtimePort);
        return sample(found, "berth_runtime_workloads", { state: "RUNNING" }) >= 1
          ? found
          : undefined;
      },
      30_000,
    );
    expect(sample(runtime, "berth_runtime_reconcile_duration_seconds_count")).toBeGreaterThan(0);
    expect(runtime).toContain('consumer="runtime-instances"');
    const registry = await text((mesh.services.registry as WithMetrics).metricsPort);
    expect(registry).toContain(
      'berth_event_consumer_pending{stream="BERTH_INSTANCES",consumer="registry-',
    );
    expect(registry).toContain("nodejs_eventloop_lag_seconds");
    const instances = await text((mesh.services.instances as WithMetrics).metricsPort);
    expect(instances).toContain('stream="BERTH_RUNTIME",consumer="instances-');
  });

  it("deletes records older than the retention period", async () => {
    const old = randomUUID();
    const recent = randomUUID();
    await db.query(
      `insert into gateway.audit_records (id, kind, time, method) values
        ($1, 'mcp_call', now() - interval '2 days', 'tools/list'),
        ($2, 'mcp_call', now() - interval '2 hours', 'tools/list')`,
      [old, recent],
    );
    await waitFor(
      "the old record deleted",
      async () => {
        const { rows } = await db.query(`select id from gateway.audit_records where id = $1`, [
          old,
        ]);
        return rows.length === 0 ? true : undefined;
      },
      10_000,
    );
    const { rows } = await db.query(`select id from gateway.audit_records where id = $1`, [recent]);
    expect(rows).toHaveLength(1);
  });
});
