import { useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";
import {
  containersOf,
  docker,
  ensureImages,
  newRunId,
  removeLeftovers,
  waitFor,
} from "./support/runtime-harness.js";

const EVERYTHING = "io.github.modelcontextprotocol/everything";
// The reference server, started 4 s late: its wake-up cannot answer within a 1 s deadline.
const SLOW_COMMAND = [
  "node",
  "-e",
  "setTimeout(() => import('/app/node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 4000)",
];

type Json = Record<string, unknown>;

// Scale to zero through the whole mesh (real Postgres, NATS JetStream, Docker; the official MCP
// SDK client through the gateway): idle instances lose their container, the first MCP request
// wakes them (once, however many arrive together), and a wake-up that takes longer than the
// instance's deadline is answered 503 with Retry-After.
describe("idle instances sleep and the first MCP request wakes them", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  const ids: Record<string, string> = {};

  const rest = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as Json;
  };
  const get = (name: string) => rest("GET", `/v1/instances/${ids[name]}`);
  const connect = async (instance: string) => {
    const client = new Client({ name: "berth-idle-test", version: "1.0.0" });
    const url = new URL(`${mesh.gateway.url}/mcp/${instance}`);
    const headers = { authorization: `Bearer ${mesh.apiKey}` };
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }), {
      timeout: 60_000,
    });
    return client;
  };
  /** IDLE as the instance shows it, and no container of it left on the engine. */
  const asleep = (name: string) =>
    waitFor(
      `${name} IDLE with no container`,
      async () => {
        const instance = await get(name);
        if (instance.status !== "INSTANCE_STATUS_IDLE") return undefined;
        return (await containersOf(ids[name]!)).length === 0 ? instance : undefined;
      },
      60_000,
    );

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    const create = async (name: string, jsonSpec: Json) => {
      const created = await rest("POST", "/v1/instances", {
        instance: { name, serverId: EVERYTHING, jsonSpec },
      });
      expect(created, JSON.stringify(created)).toMatchObject({ status: "INSTANCE_STATUS_PENDING" });
      ids[name] = created.id as string;
    };
    const health = { interval: 2, timeout: 10 };
    await create("idle-one", { idle: { timeout: 3 }, health_check: health });
    await create("idle-many", { idle: { timeout: 3 }, health_check: health });
    await create("idle-slow", {
      command: SLOW_COMMAND,
      idle: { timeout: 3, wake_timeout: 1 },
      health_check: health,
    });
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("refuses an idle policy that cannot apply, naming the field", async () => {
    const response = await fetch(`${mesh.gateway.url}/v1/instances`, {
      method: "POST",
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        instance: { name: "idle-bad", serverId: EVERYTHING, jsonSpec: { idle: { timeout: -5 } } },
      }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain("instance.json_spec.idle.timeout");
  });

  it("goes IDLE with no container left, and the SDK client's first request wakes it", async () => {
    const idle = await asleep("idle-one");
    expect(idle).toMatchObject({
      desiredState: "DESIRED_STATE_RUNNING",
      idle: { timeoutSeconds: 3 },
    });
    expect((idle.idle as Json).idleTime, "no idle deadline while asleep").toBeUndefined();

    const sent = Date.now();
    const client = await connect("idle-one");
    try {
      const echoed = await client.callTool({ name: "echo", arguments: { message: "awake" } });
      expect(echoed.content).toEqual([{ type: "text", text: "Echo: awake" }]);
    } finally {
      await client.close();
    }

    // The instance shows the wake-up's traffic and its next idle deadline.
    const awake = await waitFor(
      "idle-one RUNNING with its last request and next deadline",
      async () => {
        const instance = await get("idle-one");
        const clock = instance.idle as Json | undefined;
        if (instance.status !== "INSTANCE_STATUS_RUNNING" || !clock?.lastRequestTime) return;
        return clock.idleTime ? instance : undefined;
      },
      30_000,
    );
    const clock = awake.idle as { lastRequestTime: string; idleTime: string };
    expect(Date.parse(clock.lastRequestTime)).toBeGreaterThanOrEqual(sent - 1_000);
    expect(Date.parse(clock.idleTime)).toBeGreaterThan(Date.parse(clock.lastRequestTime));

    // The sleep and the wake-up are in the audit trail, and it sleeps again afterwards.
    const trail = await waitFor(
      "slept and woke records of idle-one",
      async () => {
        const page = await rest(
          "GET",
          `/v1/auditRecords?instance=${ids["idle-one"]}&kind=AUDIT_RECORD_KIND_CHANGE&pageSize=50`,
        );
        const actions = ((page.auditRecords ?? []) as { change?: { action: string } }[]).map(
          (r) => r.change?.action,
        );
        return actions.includes("slept") && actions.includes("woke") ? actions : undefined;
      },
      30_000,
    );
    expect(trail).toEqual(expect.arrayContaining(["created", "slept", "woke"]));
    await asleep("idle-one");
  });

  it("wakes an idle member of a virtual server when a call needs it", async () => {
    await asleep("idle-one");
    const created = await fetch(`${mesh.gateway.url}/v1/virtualServers`, {
      method: "POST",
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "sleepers",
        members: [{ instance: "idle-one", prefix: "one" }],
      }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const client = new Client({ name: "berth-idle-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${mesh.gateway.url}/mcp/v/sleepers`), {
        requestInit: { headers: { authorization: `Bearer ${mesh.apiKey}` } },
      }),
      { timeout: 60_000 },
    );
    try {
      // A member that took longer than the session's connect timeout joins on a later list.
      await waitFor(
        "the woken member's tools in the virtual server",
        async () => {
          const tools = (await client.listTools()).tools.map((t) => t.name);
          return tools.includes("one_echo") ? tools : undefined;
        },
        60_000,
        500,
      );
      const echoed = await client.callTool({ name: "one_echo", arguments: { message: "v" } });
      expect(echoed.content).toEqual([{ type: "text", text: "Echo: v" }]);
    } finally {
      await client.close();
    }
  });

  it("starts one container for 20 concurrent first requests and answers all 20", async () => {
    await asleep("idle-many");
    const since = Math.floor(Date.now() / 1000);
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect("idle-many")));
    try {
      const answers = await Promise.all(
        clients.map((client, i) =>
          client.callTool({ name: "echo", arguments: { message: `call ${i}` } }),
        ),
      );
      expect(answers.map((a) => a.content)).toEqual(
        Array.from({ length: 20 }, (_, i) => [{ type: "text", text: `Echo: call ${i}` }]),
      );
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
    const starts = await containerStarts(ids["idle-many"]!, since);
    expect(starts, "containers started by the wake-up").toBe(1);
    // Traffic after the start moved the deadline past the first timer: it still goes to sleep.
    await asleep("idle-many");
  });

  it("answers 503 with Retry-After when the wake-up would pass the deadline", async () => {
    await asleep("idle-slow");
    const response = await fetch(`${mesh.gateway.url}/mcp/idle-slow`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${mesh.apiKey}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "berth-idle-test", version: "1.0.0" },
        },
      }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^[1-9][0-9]*$/);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/did not answer within 1s of being woken/);
    // The start goes on, so a retry is served. (Not a wait for RUNNING: with a 3 s idle timeout
    // the woken instance may be RUNNING too briefly for a poll to see before it sleeps again.)
    await waitFor(
      "a retry of the refused request to be served",
      async () => {
        const retry = await fetch(`${mesh.gateway.url}/mcp/idle-slow`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${mesh.apiKey}`,
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "initialize",
            params: {
              protocolVersion: "2025-06-18",
              capabilities: {},
              clientInfo: { name: "berth-idle-test", version: "1.0.0" },
            },
          }),
        });
        await retry.body?.cancel();
        return retry.status === 200 ? true : undefined;
      },
      90_000,
      1_000,
    );
    // Requests held for wake-ups, by outcome, in the gateway's metrics.
    const metrics = await (
      await fetch(`${mesh.gateway.url}/metrics`, {
        headers: { authorization: `Bearer ${mesh.apiKey}` },
      })
    ).text();
    const count = (outcome: string) =>
      Number(
        metrics.match(
          new RegExp(
            `berth_mcp_wake_wait_seconds_count\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`,
          ),
        )?.[1] ?? 0,
      );
    expect(count("ok"), "wake-ups served").toBeGreaterThan(0);
    expect(count("timeout"), "wake-ups answered 503").toBeGreaterThan(0);
    // Sleep, a refused wake-up and the start that goes on: three waits for a container engine.
  }, 180_000);
});

/** Containers of an instance started (Docker's own event log) since a time in seconds. */
async function containerStarts(instanceId: string, since: number): Promise<number> {
  const stream = (await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ["container"], event: ["start"], label: [`berth.instance=${instanceId}`] },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text.split("\n").filter((line) => line.trim() !== "").length;
}
