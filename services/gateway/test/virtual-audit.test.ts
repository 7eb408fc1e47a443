import { randomBytes } from "node:crypto";
import { loadConfig } from "@berth/platform";
import { useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
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
  mcpCall?: Json & {
    instanceId?: string;
    instanceName?: string;
    virtualServer?: string;
    method?: string;
    tool?: string;
    outcome?: string;
    errorCode?: string;
    argumentsDigest?: string;
  };
  change?: Json & {
    resourceType?: string;
    resourceId?: string;
    resourceName?: string;
    action?: string;
    revisionBefore?: string;
    revisionAfter?: string;
    changedFields?: string[];
    source?: string;
  };
};

// Governance of a virtual server with real parts: keys made through the API, a virtual server over
// a url instance run by the real runtime (@modelcontextprotocol/server-everything), the official
// MCP SDK client at /mcp/v/{name}, a gateway whose log is captured, its /metrics, its database.
describe("a virtual server's calls and changes in the audit trail and /metrics", () => {
  const runId = newRunId();
  const secretA = `vs-arg-alice-${randomBytes(8).toString("hex")}`;
  const secretB = `vs-arg-bob-${randomBytes(8).toString("hex")}`;
  const logLines: string[] = [];
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let gateway: Gateway;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let db: pg.Client;
  const clients: Client[] = [];

  const rest = async (method: string, path: string, key: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const records = async (query: string): Promise<AuditRecord[]> => {
    const { status, body } = await rest("GET", `/v1/auditRecords?${query}`, mesh.apiKey);
    expect(status, JSON.stringify(body)).toBe(200);
    return (body.auditRecords ?? []) as AuditRecord[];
  };
  const createKey = async (displayName: string, scopes: string[], more: Json = {}) => {
    const { status, body } = await rest("POST", "/v1/apiKeys", mesh.apiKey, {
      displayName,
      scopes,
      ...more,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    return { id: (body.apiKey as Json).id as string, key: body.key as string };
  };
  const scrape = async (key: string) => {
    const response = await fetch(`${gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    return response.text();
  };
  const connect = async (key: string) => {
    const client = new Client({ name: "vs-audit-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/v/governed`), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
      { timeout: 30_000 },
    );
    clients.push(client);
    return client;
  };
  const refusalOf = (client: Client, name: string, args: Json) =>
    client.callTool({ name, arguments: args }).then(
      () => undefined,
      (error: unknown) => error,
    );

  beforeAll(async () => {
    engines = await useEngines();
    everything = await startEverythingServer();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    // A second gateway on the same schema, its log in memory (at debug: every line it writes).
    gateway = await startGateway(
      loadConfig(gatewayEnv, { ...mesh.env, ...serviceMeshEnv("gateway", engines) }),
      memoryLogger(logLines),
    );
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await db?.end();
    await gateway?.stop();
    await mesh?.stop();
    await everything?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("records every call with key, virtual server, member, tool and outcome, never an argument value; /metrics moves; changes carry the actor and revisions", async () => {
    const alice = await createKey("vs-alice", ["API_KEY_SCOPE_MCP", "API_KEY_SCOPE_WRITE"]);
    const created = await rest("POST", "/v1/instances", alice.key, {
      instance: { name: "vs-member", jsonSpec: { type: "url", endpoint: everything.url } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const instanceId = created.body.id as string;
    await waitFor(
      "member RUNNING",
      async () =>
        (await rest("GET", `/v1/instances/${instanceId}`, alice.key)).body.status ===
        "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      60_000,
    );

    // Alice creates and updates the virtual server; each write is recorded with her key.
    const vs = await rest("POST", "/v1/virtualServers", alice.key, {
      name: "governed",
      members: [{ instance: "vs-member", prefix: "m", denyTools: ["get-env"] }],
    });
    expect(vs.status, JSON.stringify(vs.body)).toBe(200);
    const vsId = vs.body.id as string;
    const updated = await rest(
      "PATCH",
      "/v1/virtualServers/governed?updateMask=description",
      alice.key,
      { description: "audited", revision: "1" },
    );
    expect(updated.body).toMatchObject({ revision: "2" });
    // A stale revision changes nothing and records nothing.
    const stale = await rest(
      "PATCH",
      "/v1/virtualServers/governed?updateMask=description",
      alice.key,
      { description: "stale", revision: "1" },
    );
    expect(stale.status).toBe(409);
    const bob = await createKey("vs-bob", ["API_KEY_SCOPE_MCP"], {
      virtualServers: [{ virtualServer: "governed", tools: ["m_echo"] }],
    });
    const scraper = await createKey("vs-prometheus", ["API_KEY_SCOPE_METRICS"]);
    const before = await scrape(scraper.key);

    // Calls: an ok call each, a denied tool (alice) and a tool outside the grant (bob).
    const a = await connect(alice.key);
    expect(await a.callTool({ name: "m_echo", arguments: { message: secretA } })).toMatchObject({
      content: [{ type: "text", text: `Echo: ${secretA}` }],
    });
    const denied = await refusalOf(a, "m_get-env", { secret: secretA });
    expect(denied).toBeInstanceOf(McpError);
    const b = await connect(bob.key);
    expect(await b.callTool({ name: "m_echo", arguments: { message: secretB } })).toMatchObject({
      content: [{ type: "text", text: `Echo: ${secretB}` }],
    });
    const ungranted = await refusalOf(b, "m_get-sum", { a: 1, b: 2, note: secretB });
    expect(ungranted).toBeInstanceOf(McpError);

    // /metrics: the calls counted under the virtual server's name and the member's name.
    const after = await scrape(scraper.key);
    const delta = (labels: Record<string, string>) =>
      sample(after, "berth_mcp_calls_total", labels) -
      sample(before, "berth_mcp_calls_total", labels);
    expect(
      delta({
        instance: "vs-member",
        virtual_server: "governed",
        method: "tools/call",
        tool: "m_echo",
        outcome: "ok",
      }),
    ).toBe(2);
    expect(delta({ virtual_server: "governed", method: "tools/call", outcome: "refused" })).toBe(2);
    expect(
      sample(after, "berth_mcp_call_duration_seconds_count", {
        virtual_server: "governed",
        method: "tools/call",
      }),
    ).toBe(4);

    // The trail: the four tools/call records, filtered by the virtual server's name.
    const calls = await waitFor(
      "four tools/call records",
      async () => {
        const found = (
          await records("virtualServer=governed&kind=AUDIT_RECORD_KIND_MCP_CALL&pageSize=100")
        ).filter((r) => r.mcpCall?.method === "tools/call");
        return found.length >= 4 ? found : undefined;
      },
      10_000,
    );
    expect(calls).toHaveLength(4);
    const member = { instanceId, instanceName: "vs-member", virtualServer: "governed" };
    const call = (keyId: string, tool: string) =>
      calls.find((r) => r.actorKeyId === keyId && r.mcpCall?.tool === tool);
    expect(call(alice.id, "m_echo")).toMatchObject({
      actorKeyName: "vs-alice",
      mcpCall: {
        ...member,
        outcome: "MCP_CALL_OUTCOME_OK",
        argumentsDigest: digest({ message: secretA }),
      },
    });
    expect(call(bob.id, "m_echo")).toMatchObject({
      actorKeyName: "vs-bob",
      mcpCall: {
        ...member,
        outcome: "MCP_CALL_OUTCOME_OK",
        argumentsDigest: digest({ message: secretB }),
      },
    });
    // Refused by the gateway before any member was asked: no member in the record.
    for (const [keyId, tool] of [
      [alice.id, "m_get-env"],
      [bob.id, "m_get-sum"],
    ] as const) {
      const refused = call(keyId, tool)?.mcpCall;
      expect(refused).toMatchObject({
        virtualServer: "governed",
        outcome: "MCP_CALL_OUTCOME_REFUSED",
        errorCode: "-32602",
      });
      // REST leaves empty fields out.
      expect(refused?.instanceId ?? "").toBe("");
    }
    // The filter takes the id too, and the CLI filters by name.
    const byId = await records(
      `virtualServer=${vsId}&kind=AUDIT_RECORD_KIND_MCP_CALL&pageSize=100`,
    );
    expect(byId.map((r) => r.id).sort()).toEqual(
      expect.arrayContaining(calls.map((r) => r.id).sort()),
    );
    const printed = await runBerth(
      ["audit", "list", "--virtual-server", "governed", "--kind", "call", "--tool", "m_echo"],
      { url: gateway.url, apiKey: mesh.apiKey, timeoutMs: 60_000 },
    );
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(
      /vs-alice \([0-9a-f]{16}\)\s+call\s+governed\s+tools\/call m_echo\s+ok/,
    );
    expect(printed.stdout).toMatch(
      /vs-bob \([0-9a-f]{16}\)\s+call\s+governed\s+tools\/call m_echo\s+ok/,
    );

    // Alice deletes it; create, update and delete are in the trail with her key and revisions.
    expect((await rest("DELETE", "/v1/virtualServers/governed", alice.key)).status).toBe(200);
    const changes = await records(
      `kind=AUDIT_RECORD_KIND_CHANGE&resourceType=VirtualServer&virtualServer=${vsId}`,
    );
    const byAction = new Map(changes.map((r) => [r.change?.action, r]));
    expect([...byAction.keys()].sort()).toEqual(["created", "deleted", "updated"]);
    for (const record of changes) {
      expect(record).toMatchObject({
        actorKeyId: alice.id,
        actorKeyName: "vs-alice",
        change: { resourceId: vsId, resourceName: "governed", source: "gateway" },
      });
    }
    // REST leaves zero revisions out.
    const revisions = (action: string) => {
      const change = byAction.get(action)?.change;
      return [change?.revisionBefore ?? "0", change?.revisionAfter ?? "0"];
    };
    expect(revisions("created")).toEqual(["0", "1"]);
    expect(revisions("updated")).toEqual(["1", "2"]);
    expect(revisions("deleted")).toEqual(["2", "0"]);
    expect(byAction.get("updated")?.change?.changedFields).toEqual(["description"]);

    // No argument value in the trail, in the gateway's database, or in any line it logged.
    const everythingListed = await records("pageSize=500");
    const dump = await db.query(`select * from gateway.audit_records`);
    expect(logLines.length).toBeGreaterThan(0);
    for (const secret of [secretA, secretB]) {
      expect(JSON.stringify(everythingListed)).not.toContain(secret);
      expect(JSON.stringify(dump.rows)).not.toContain(secret);
      expect(logLines.join("\n")).not.toContain(secret);
    }
  }, 180_000);
});
