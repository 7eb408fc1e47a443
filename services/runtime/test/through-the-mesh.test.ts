import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, GUARD_HEADER, loadConfig } from "@berth/platform";
import { findFreePort, useEngines } from "@berth/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceMeshEnv, startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { type Runtime, runtimeEnv, startRuntime } from "../src/index.js";
import { startLocalMcpServer } from "./support/local-mcp-server.js";
import { connectMcp, statusEvents } from "./support/mcp-helpers.js";
import {
  containersOf,
  docker,
  ensureImages,
  IMAGES,
  leftovers,
  newRunId,
  removeLeftovers,
  runtimeClient,
  waitFor,
} from "./support/runtime-harness.js";

/** Files under dir (recursively) whose bytes contain needle. */
async function grepDir(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    if ((await readFile(file)).includes(needle)) found.push(file);
  }
  return found;
}

// The real chain: REST at the gateway → instances (encrypted secrets, outbox) → JetStream →
// runtime (secrets resolved over gRPC with its credential) → Docker → status back to instances.
describe("instances created through the API become real workloads", () => {
  const runId = newRunId();
  const apiKey = `berth_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;
  const secretValue = `sk-rt-${randomBytes(12).toString("hex")}`;
  const tokenValue = `tok-rt-${randomBytes(12).toString("hex")}`;
  const logLines: string[] = [];
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let runtime: Runtime;

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const statusOf = async (id: string) => (await call("GET", `/v1/instances/${id}`)).body.status;
  const becomes = (id: string, status: string) =>
    waitFor(
      `instance ${id} ${status}`,
      async () => ((await statusOf(id)) === status ? true : undefined),
      45_000,
    );

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    const runtimePort = await findFreePort();
    mesh = await startMesh(engines, {
      services: ["registry", "instances"],
      env: { BERTH_BOOTSTRAP_API_KEY: apiKey, RUNTIME_ADDR: `127.0.0.1:${runtimePort}` },
    });
    // The runtime's log goes to memory, so the test can look for secret values in it.
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        done();
      },
    });
    const env = {
      ...mesh.env,
      ...serviceMeshEnv("runtime", engines),
      GRPC_PORT: String(runtimePort),
      INSTANCES_ADDR: `127.0.0.1:${mesh.services.instances!.port}`,
      BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
      RECONCILE_INTERVAL_MS: "2000",
    };
    runtime = await startRuntime(
      loadConfig(runtimeEnv, env),
      createLogger({ service: "runtime", level: "debug", destination }),
    );
  });
  afterAll(async () => {
    await runtime?.stop();
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("runs an stdio server with its secret, serves its tools, and never shows the secret", async () => {
    const server = await call("POST", "/v1/servers", {
      name: "everything-stdio",
      image: IMAGES.stdio,
      transport: "TRANSPORT_STDIO",
      envSchema: [{ name: "API_KEY", type: "ENV_VAR_TYPE_STRING", required: true, secret: true }],
    });
    expect(server.status).toBe(200);
    const created = await call("POST", "/v1/instances", {
      instance: {
        name: "ev-stdio",
        serverId: "everything-stdio",
        jsonSpec: { health_check: { interval: 2, timeout: 2 } },
      },
      secrets: { API_KEY: secretValue },
    });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    await becomes(id, "INSTANCE_STATUS_RUNNING");

    const tools = await call("GET", `/v1/instances/${id}/tools`);
    expect(tools.status).toBe(200);
    expect((tools.body.tools as Array<{ name: string }>).map((t) => t.name)).toContain("echo");
    const workloads = await call("GET", "/v1/workloads");
    expect(
      (workloads.body.workloads as Array<{ instanceId: string }>).map((w) => w.instanceId),
    ).toContain(id);

    const endpoint = await runtimeClient(runtime.port).resolveEndpoint({ instanceId: id });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    const echoed = await mcp.callTool({ name: "echo", arguments: { message: "via the API" } });
    expect(echoed.content).toEqual([{ type: "text", text: "Echo: via the API" }]);
    await mcp.close();

    // Docker holds no copy of the value: not in `docker inspect`, not in the container's files
    // on disk (issue 12, item 5)...
    const [container] = await containersOf(id);
    const info = await docker.getContainer(container!.Id).inspect();
    expect(JSON.stringify(info)).not.toContain(secretValue);
    expect(info.Config.Env ?? []).not.toContainEqual(expect.stringContaining("API_KEY"));
    const root = ((await docker.info()) as { DockerRootDir: string }).DockerRootDir;
    expect(await grepDir(`${root}/containers/${info.Id}`, secretValue)).toEqual([]);
    // ...yet the server has it: its get-env tool prints its environment (that answer travels on
    // stdout, which Docker logs, so it is asked only after the files were checked).
    const seen = await connectMcp(endpoint.url, endpoint.headers);
    const env = await seen.callTool({ name: "get-env", arguments: {} });
    await seen.close();
    expect(JSON.stringify(env.content)).toContain(secretValue);
    expect(JSON.stringify(info.Config.Labels)).not.toContain(secretValue);
    expect(logLines.join("\n")).not.toContain(secretValue);
    expect(logLines.some((line) => line.includes('"workload started"'))).toBe(true);
    const events = await statusEvents(engines.natsUrl, id, (all) => all.length >= 2);
    expect(
      JSON.stringify(events, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
    ).not.toContain(secretValue);
    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      const rows = await db.query(
        "select spec::text as spec from runtime.workloads where instance_id = $1",
        [id],
      );
      expect(rows.rows[0].spec).toContain(`secret_ref:${id}:API_KEY`);
      expect(rows.rows[0].spec).not.toContain(secretValue);
    } finally {
      await db.end();
    }
  });

  it("runs an http server and watches a url instance with a bearer token from secrets", async () => {
    await call("POST", "/v1/servers", {
      name: "everything-http",
      image: IMAGES.http,
      transport: "TRANSPORT_STREAMABLE_HTTP",
      port: 3001,
      path: "/mcp",
    });
    const http = await call("POST", "/v1/instances", {
      instance: {
        name: "ev-http",
        serverId: "everything-http",
        jsonSpec: { health_check: { interval: 2, timeout: 2 } },
      },
    });
    expect(http.status).toBe(200);
    const httpId = http.body.id as string;
    await becomes(httpId, "INSTANCE_STATUS_RUNNING");
    // The HTTP container is reached only through its port guard: its endpoint carries the guard
    // credential (taken out of the headers and sent as the connection's first line), and the
    // published port answers nothing MCP to a caller without it.
    const guarded = await runtimeClient(runtime.port).resolveEndpoint({ instanceId: httpId });
    expect(Object.keys(guarded.headers)).toContain(GUARD_HEADER);
    const bare = await fetch(guarded.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    }).catch(() => undefined);
    expect(bare === undefined || bare.status === 401).toBe(true);

    // A url instance whose upstream demands the bearer token sealed in the instance's secrets.
    const upstream = await startLocalMcpServer({
      name: "authorization",
      value: `Bearer ${tokenValue}`,
    });
    try {
      const remote = await call("POST", "/v1/instances", {
        instance: {
          name: "ev-remote",
          jsonSpec: {
            type: "url",
            endpoint: upstream.url,
            authentication: { type: "bearer" },
            health_check: { interval: 2, timeout: 2 },
          },
        },
        secrets: { AUTH_TOKEN: tokenValue },
      });
      expect(remote.status).toBe(200);
      const remoteId = remote.body.id as string;
      await becomes(remoteId, "INSTANCE_STATUS_RUNNING");
      const endpoint = await runtimeClient(runtime.port).resolveEndpoint({ instanceId: remoteId });
      expect(endpoint).toMatchObject({
        url: upstream.url,
        headers: { authorization: `Bearer ${tokenValue}` },
      });
      const mcp = await connectMcp(endpoint.url, endpoint.headers);
      expect((await mcp.listTools()).tools.map((t) => t.name)).toContain("shout");
      await mcp.close();
    } finally {
      await upstream.close();
    }
    expect(logLines.join("\n")).not.toContain(tokenValue);

    const dead = await call("POST", "/v1/instances", {
      instance: {
        name: "ev-dead",
        jsonSpec: {
          type: "url",
          endpoint: `http://127.0.0.1:${await findFreePort()}/mcp`,
          health_check: { interval: 1, timeout: 1 },
        },
      },
    });
    await becomes(dead.body.id as string, "INSTANCE_STATUS_UNHEALTHY");
  });

  it("deletes: the instance goes away once the workload is gone, leaving no container or network", async () => {
    const list = await call("GET", "/v1/instances");
    const ids = (list.body.instances as Array<{ id: string }>).map((i) => i.id);
    expect(ids).toHaveLength(4);
    for (const id of ids) expect((await call("DELETE", `/v1/instances/${id}`)).status).toBe(200);
    for (const id of ids) {
      await waitFor(`instance ${id} gone`, async () =>
        (await call("GET", `/v1/instances/${id}`)).status === 404 ? true : undefined,
      );
    }
    const left = await leftovers(runId);
    expect(left.containers).toEqual([]);
    expect(left.networks).toEqual([]);
  });
});
