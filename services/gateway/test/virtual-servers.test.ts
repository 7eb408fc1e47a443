import { readFile } from "node:fs/promises";
import { pollUntil, useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../../../packages/cli/test/support/run-berth.js";
import {
  ensureImages,
  newRunId,
  removeLeftovers,
  waitFor,
} from "../../runtime/test/support/runtime-harness.js";
import { parseApiKey } from "../src/api-keys/key-format.js";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

/** The fields of REST answers this test reads. */
interface Answer {
  id: string;
  name: string;
  status: string;
  error: { status: string };
  virtualServers: Array<{ name: string }>;
  [field: string]: unknown;
}

// A virtual server over two real instances run by the real runtime: the reference "everything"
// server in a stdio container and in an HTTP container, reached with the official MCP SDK client
// through /mcp/v/{name}.
describe("virtual servers over a stdio and an HTTP container", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  const ids: Record<string, string> = {};
  const clients: Client[] = [];
  // An argument value that must never reach the audit trail.
  const secret = `vs-secret-${runId}`;
  let stdioOnlyKeyId = "";

  const json = async (method: string, path: string, body?: unknown, key?: string) => {
    const response = await mesh.rest(method, path, body, key);
    return { status: response.status, body: (await response.json()) as Answer };
  };
  const status = async (id: string) => (await json("GET", `/v1/instances/${id}`)).body.status;
  const until = (id: string, wanted: string) =>
    waitFor(
      `${id} ${wanted}`,
      async () => ((await status(id)) === wanted ? true : undefined),
      90_000,
    );

  const connect = async (key: string, name = "team") => {
    const client = new Client(
      { name: "vs-test", version: "1.0.0" },
      { capabilities: { sampling: {}, elicitation: { form: {} } } },
    );
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      model: "test-model",
      role: "assistant" as const,
      content: {
        type: "text" as const,
        text: `sampled for ${JSON.stringify(request.params.maxTokens)}`,
      },
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "decline" as const }));
    const url = new URL(`${mesh.gateway.url}/mcp/v/${name}`);
    await client.connect(
      new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
      { timeout: 30_000 },
    );
    clients.push(client);
    return client;
  };
  const names = async (client: Client) =>
    (await client.listTools()).tools.map((t) => t.name).sort();

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    mesh = await startKeyedMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    const http = JSON.parse(
      await readFile(new URL("../../../catalog/everything-http.json", import.meta.url), "utf8"),
    );
    expect((await json("POST", "/v1/servers:import", http)).status).toBe(200);
    for (const [name, serverId] of [
      ["ev-stdio", "io.github.modelcontextprotocol/everything"],
      ["ev-http", "io.github.modelcontextprotocol/everything-http"],
    ] as const) {
      const created = await json("POST", "/v1/instances", {
        instance: { name, serverId, jsonSpec: { health_check: { interval: 2, timeout: 2 } } },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      ids[name] = created.body.id;
    }
    await Promise.all(Object.values(ids).map((id) => until(id, "INSTANCE_STATUS_RUNNING")));
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  const team = {
    name: "team",
    description: "stdio and HTTP everything",
    members: [
      {
        instance: "ev-stdio",
        prefix: "s",
        denyTools: ["get-env", "trigger-*-async"],
        toolOverrides: [
          {
            tool: "echo",
            name: "shout",
            description: "Echoes, renamed",
            annotations: { title: "Shout" },
          },
          { tool: "get-sum", pinnedArguments: { b: 10 } },
        ],
      },
      { instance: "ev-http", prefix: "h", separator: "." },
    ],
  };

  it("refuses ambiguous namespaces and bad fields at write time, naming the field", async () => {
    const clash = await json("POST", "/v1/virtualServers", {
      name: "clash",
      members: [
        { instance: "ev-stdio", prefix: "x" },
        { instance: "ev-http", prefix: "x" },
      ],
    });
    expect(clash.status).toBe(400);
    expect(JSON.stringify(clash.body)).toContain("virtual_server.members[1].prefix");
    const unknown = await json("POST", "/v1/virtualServers", {
      name: "nobody",
      members: [{ instance: "no-such-instance" }],
    });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain("virtual_server.members[0].instance");
    expect((await json("GET", "/v1/virtualServers/clash")).status).toBe(404);
  });

  it("creates, reads, lists and updates with a revision", async () => {
    const created = await json("POST", "/v1/virtualServers", team);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({
      name: "team",
      endpoint: "/mcp/v/team",
      revision: "1",
      members: [
        { instance: ids["ev-stdio"], instanceName: "ev-stdio", prefix: "s", separator: "_" },
        { instance: ids["ev-http"], instanceName: "ev-http", prefix: "h", separator: "." },
      ],
    });
    const got = await json("GET", `/v1/virtualServers/${created.body.id}`);
    expect(got.body.name).toBe("team");
    const listed = await json("GET", "/v1/virtualServers?pageSize=10");
    expect(listed.body.virtualServers.map((v: { name: string }) => v.name)).toContain("team");
    const stale = await json("PATCH", `/v1/virtualServers/team?updateMask=description`, {
      description: "x",
      revision: "7",
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.status).toBe("ABORTED");
    const updated = await json("PATCH", `/v1/virtualServers/team?updateMask=description`, {
      description: "updated",
      revision: "1",
    });
    expect(updated.body).toMatchObject({ description: "updated", revision: "2" });
    // A read-only key may read but not write.
    const reader = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    expect((await json("GET", "/v1/virtualServers/team", undefined, reader.key)).status).toBe(200);
    expect((await json("DELETE", "/v1/virtualServers/team", undefined, reader.key)).status).toBe(
      403,
    );
  });

  it("lists namespaced and overridden tools, calls each member, relays progress, sampling and elicitation", async () => {
    const client = await connect(mesh.adminKey);
    expect(client.getServerCapabilities()?.tools).toBeDefined();
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()]).toEqual(
      expect.arrayContaining([
        "shout",
        "s_get-sum",
        "s_trigger-long-running-operation",
        "h.echo",
        "h.get-sum",
      ]),
    );
    expect(byName.has("s_echo")).toBe(false);
    expect(byName.get("shout")).toMatchObject({
      description: "Echoes, renamed",
      annotations: { title: "Shout" },
    });
    expect(Object.keys(byName.get("s_get-sum")!.inputSchema.properties ?? {})).toEqual(["a"]);

    expect(
      (await client.callTool({ name: "shout", arguments: { message: secret } })).content,
    ).toEqual([{ type: "text", text: `Echo: ${secret}` }]);
    expect(
      (await client.callTool({ name: "h.echo", arguments: { message: "there" } })).content,
    ).toEqual([{ type: "text", text: "Echo: there" }]);
    const sum = await client.callTool({ name: "s_get-sum", arguments: { a: 5, b: 1000 } });
    expect(JSON.stringify(sum.content)).toContain("The sum of 5 and 10 is 15.");

    const progress: number[] = [];
    await client.callTool(
      { name: "s_trigger-long-running-operation", arguments: { duration: 1, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
    );
    expect(progress).toEqual([1, 2, 3]);

    const sampled = await client.callTool({
      name: "h.trigger-sampling-request",
      arguments: { prompt: "hello", maxTokens: 42 },
    });
    expect(JSON.stringify(sampled.content)).toContain("sampled for 42");
    const elicited = await client.callTool({
      name: "s_trigger-elicitation-request",
      arguments: {},
    });
    expect(JSON.stringify(elicited.content)).toContain("declined");
  }, 120_000);

  it("concurrent clients each get only their own progress and answers", async () => {
    const [one, two] = await Promise.all([connect(mesh.adminKey), connect(mesh.adminKey)]);
    const seen: Record<string, number[]> = { one: [], two: [] };
    const run = (client: Client, who: string, steps: number) =>
      client.callTool(
        { name: "s_trigger-long-running-operation", arguments: { duration: 1, steps } },
        undefined,
        { onprogress: (p) => seen[who]!.push(p.total ?? -1), timeout: 30_000 },
      );
    const [a, b] = await Promise.all([run(one, "one", 2), run(two, "two", 4)]);
    expect(seen).toEqual({ one: [2, 2], two: [4, 4, 4, 4] });
    expect(JSON.stringify(a.content)).toContain("Steps: 2");
    expect(JSON.stringify(b.content)).toContain("Steps: 4");
  }, 60_000);

  it("the CLI creates, shows, updates, lists and deletes virtual servers and grants keys", async () => {
    const berth = async (args: string[], input?: string) => {
      const run = await runBerth(args, {
        url: mesh.gateway.url,
        apiKey: mesh.adminKey,
        timeoutMs: 60_000,
        ...(input === undefined ? {} : { input }),
      });
      expect(run.code, `${args.join(" ")}: ${run.stderr}`).toBe(0);
      return run.stdout;
    };
    const file = JSON.stringify({ name: "cli-vs", members: [{ instance: "ev-http", prefix: "" }] });
    expect(await berth(["virtual-servers", "create", "--file", "-"], file)).toContain("cli-vs");
    const shown = JSON.parse(await berth(["virtual-servers", "get", "cli-vs", "-o", "json"]));
    expect(shown.members[0]).toMatchObject({ instance: ids["ev-http"], instanceName: "ev-http" });
    const updated = JSON.parse(
      await berth(
        ["virtual-servers", "update", "cli-vs", "--file", "-", "--revision", "1", "-o", "json"],
        JSON.stringify({ description: "via the CLI" }),
      ),
    );
    expect(updated).toMatchObject({ description: "via the CLI", revision: "2" });
    expect(await berth(["virtual-servers", "list"])).toContain("cli-vs");
    const key = JSON.parse(
      await berth([
        "api-keys",
        "create",
        "--name",
        "agent",
        "--scope",
        "mcp",
        "--virtual-server",
        "cli-vs=echo,get-*",
        "-o",
        "json",
      ]),
    );
    expect(key.apiKey.virtualServers).toEqual([
      { virtualServer: shown.id, tools: ["echo", "get-*"] },
    ]);
    expect(await names(await connect(key.key, "cli-vs"))).toEqual(
      expect.arrayContaining(["echo", "get-sum"]),
    );
    await berth(["virtual-servers", "delete", "cli-vs"]);
    expect((await json("GET", "/v1/virtualServers/cli-vs")).status).toBe(404);
  }, 240_000);

  it("hides a denied tool and refuses it exactly like an unknown one", async () => {
    const client = await connect(mesh.adminKey);
    const listed = await names(client);
    expect(listed).not.toContain("s_get-env");
    expect(listed).toContain("h.get-env");
    const refusal = async (name: string) => {
      const error = await client.callTool({ name, arguments: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McpError);
      return {
        code: (error as McpError).code,
        message: (error as McpError).message.replace(name, "NAME"),
      };
    };
    expect(await refusal("s_get-env")).toEqual(await refusal("s_no-such-tool"));
  }, 60_000);

  it("two differently limited keys see different tools; a key limited to instances is refused", async () => {
    const vs = (await json("GET", "/v1/virtualServers/team")).body;
    const stdioOnly = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_MCP"],
      virtualServers: [{ virtualServer: "team", tools: ["s_*"] }],
    });
    const httpEcho = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_MCP"],
      virtualServers: [{ virtualServer: vs.id, tools: ["h.echo", "shout"] }],
    });
    stdioOnlyKeyId = stdioOnly.id;
    const a = await names(await connect(stdioOnly.key));
    const b = await names(await connect(httpEcho.key));
    expect(a.length).toBeGreaterThan(3);
    expect(a.every((n) => n.startsWith("s_"))).toBe(true);
    expect(b).toEqual(["h.echo", "shout"]);
    const limitedClient = await connect(stdioOnly.key);
    const refused = await limitedClient
      .callTool({ name: "h.echo", arguments: { message: "x" } })
      .catch((e) => e);
    expect((refused as McpError).message).toMatch(/h\.echo not found/);
    const instanceKey = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_MCP"],
      instances: ["ev-stdio"],
    });
    await expect(connect(instanceKey.key)).rejects.toThrow(/403|may not use/);
  }, 60_000);

  it("a member stopping and starting is reflected in tools/list; clients are told", async () => {
    const client = await connect(mesh.adminKey);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    expect(await names(client)).toContain("h.echo");
    await json("POST", `/v1/instances/${ids["ev-http"]}:stop`, {});
    await until(ids["ev-http"]!, "INSTANCE_STATUS_STOPPED");
    const started = Date.now();
    const without = await names(client);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(without.some((n) => n.startsWith("h."))).toBe(false);
    expect(without).toContain("shout");
    const call = await client
      .callTool({ name: "h.echo", arguments: { message: "x" } })
      .catch((e) => e);
    expect(call).toBeInstanceOf(McpError);
    await json("POST", `/v1/instances/${ids["ev-http"]}:start`, {});
    await until(ids["ev-http"]!, "INSTANCE_STATUS_RUNNING");
    await waitFor(
      "h.echo back",
      async () => ((await names(client)).includes("h.echo") ? true : undefined),
      30_000,
    );
    expect(
      (await client.callTool({ name: "h.echo", arguments: { message: "back" } })).content,
    ).toEqual([{ type: "text", text: "Echo: back" }]);
    expect(changed).toBeGreaterThan(0);
  }, 180_000);

  it("deleting the virtual server ends its sessions", async () => {
    const client = await connect(mesh.adminKey);
    expect((await json("DELETE", "/v1/virtualServers/team")).status).toBe(200);
    await waitFor(
      "session gone",
      // A request that times out is not an answer: it is asked again, and the wait fails if the
      // gateway never refuses the session.
      async () => {
        const outcome = await client.listTools(undefined, { timeout: 2_000 }).then(
          () => "served",
          (error: unknown) =>
            error instanceof McpError && error.code === ErrorCode.RequestTimeout
              ? "timeout"
              : "gone",
        );
        return outcome === "gone" ? true : undefined;
      },
      10_000,
    );
    expect((await json("GET", "/v1/virtualServers/team")).status).toBe(404);
  }, 30_000);

  it("every call and change of these tests is in the audit trail, with its key and outcome", async () => {
    type Call = {
      actorKeyId?: string;
      mcpCall?: { tool?: string; method?: string; outcome?: string; instanceName?: string };
      change?: { action?: string; resourceName?: string };
    };
    const adminId = parseApiKey(mesh.adminKey)!.id;
    const list = async (query: string) => {
      const answer = await json("GET", `/v1/auditRecords?pageSize=500&${query}`);
      expect(answer.status).toBe(200);
      return (answer.body.auditRecords ?? []) as Call[];
    };
    const countIn = (
      calls: Call[],
      keyId: string,
      tool: string,
      outcome: string,
      instanceName?: string,
    ) =>
      calls.filter(
        (r) =>
          r.actorKeyId === keyId &&
          r.mcpCall?.method === "tools/call" &&
          r.mcpCall.tool === tool &&
          r.mcpCall.outcome === `MCP_CALL_OUTCOME_${outcome}` &&
          (instanceName === undefined || r.mcpCall.instanceName === instanceName),
      ).length;
    // [key, tool, outcome, member, how many]: one call each, one with progress then two
    // concurrent ones, h.echo before and after the restart, and three refused by the gateway (the
    // denied tool, an unknown one, one outside a key's grant).
    const expected: [string, string, string, string | undefined, number][] = [
      [adminId, "shout", "OK", "ev-stdio", 1],
      [adminId, "s_get-sum", "OK", "ev-stdio", 1],
      [adminId, "s_trigger-elicitation-request", "OK", "ev-stdio", 1],
      [adminId, "h.trigger-sampling-request", "OK", "ev-http", 1],
      [adminId, "s_trigger-long-running-operation", "OK", "ev-stdio", 3],
      [adminId, "h.echo", "OK", "ev-http", 2],
      [adminId, "s_get-env", "REFUSED", undefined, 1],
      [adminId, "s_no-such-tool", "REFUSED", undefined, 1],
      [stdioOnlyKeyId, "h.echo", "REFUSED", undefined, 1],
    ];
    // Calls are written in batches as each ends, so the trail is read until every call is in it
    // (or the wait ends), then compared call by call for a message that names what is missing.
    let calls: Call[] = [];
    await pollUntil(
      async () => {
        calls = await list("virtualServer=team&kind=AUDIT_RECORD_KIND_MCP_CALL");
        return expected.every(([key, tool, outcome, member, n]) => {
          return countIn(calls, key, tool, outcome, member) >= n;
        });
      },
      15_000,
      250,
    );
    for (const [key, tool, outcome, member, n] of expected) {
      expect(countIn(calls, key, tool, outcome, member), `${tool} ${outcome}`).toBe(n);
    }
    expect(JSON.stringify(await list(""))).not.toContain(secret);

    // The virtual servers' changes, by the admin key (the CLI's too).
    for (const name of ["team", "cli-vs"]) {
      const changes = await list(`kind=AUDIT_RECORD_KIND_CHANGE&virtualServer=${name}`);
      expect(changes.map((r) => r.change?.action).sort(), name).toEqual([
        "created",
        "deleted",
        "updated",
      ]);
      expect(changes.every((r) => r.actorKeyId === adminId)).toBe(true);
    }
  }, 30_000);
});
