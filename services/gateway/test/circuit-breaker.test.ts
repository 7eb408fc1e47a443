import { createBerthClient, UpstreamCircuit } from "@berth/sdk";
import { useEngines, waitFor } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRunId, removeLeftovers } from "../../runtime/test/support/runtime-harness.js";
import { type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";
import { initializeWith } from "./support/oauth-client.js";

const FAILURES = 3;
const OPEN_MS = 2_000;

// Issue 21: retries with back-off and a circuit breaker on calls to url upstreams, the breaker's
// state visible on the instance. Real registry, instances, runtime and gateway; a real MCP server
// the test stops and starts again on the same port.
describe("circuit breaker on a url instance's upstream", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let upstream: Awaited<ReturnType<typeof startEverythingServer>>;

  beforeAll(async () => {
    engines = await useEngines();
    upstream = await startEverythingServer();
    mesh = await startKeyedMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: {
        BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
        MCP_BREAKER_FAILURES: String(FAILURES),
        MCP_BREAKER_OPEN_MS: String(OPEN_MS),
        MCP_BREAKER_MAX_OPEN_MS: String(OPEN_MS),
      },
    });
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
    await upstream?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  /** A raw MCP initialize as the admin (the body read only when asked, else cancelled). */
  const initialize = (readBody = false) =>
    initializeWith(`${mesh.gateway.url}/mcp/breaker-remote`, mesh.adminKey, { readBody });
  const upstreamOf = async (id: string) =>
    (
      (await (await mesh.rest("GET", `/v1/instances/${id}`)).json()) as {
        upstream?: Record<string, unknown>;
      }
    ).upstream;

  it("opens after repeated failures (503 + Retry-After without dialling), probes and closes, shown on the instance", async () => {
    const created = await mesh.rest("POST", "/v1/instances", {
      instance: {
        name: "breaker-remote",
        jsonSpec: {
          type: "url",
          endpoint: upstream.url,
          health_check: { interval: 1, timeout: 1 },
        },
      },
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    await waitFor(
      "RUNNING",
      async () =>
        ((await (await mesh.rest("GET", `/v1/instances/${id}`)).json()) as { status: string })
          .status === "INSTANCE_STATUS_RUNNING" || undefined,
      60_000,
    );
    const client = new Client({ name: "breaker-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${mesh.gateway.url}/mcp/breaker-remote`), {
        requestInit: { headers: { authorization: `Bearer ${mesh.adminKey}` } },
      }),
    );
    const echoed = await client.callTool({ name: "echo", arguments: { message: "before" } });
    expect(echoed.content).toEqual([{ type: "text", text: "Echo: before" }]);
    await client.close();

    await upstream.stop();
    // Each failure is a connection refused after the gateway's own retries (never a 5xx of ours).
    const statuses: number[] = [];
    for (let i = 0; i < FAILURES; i++) statuses.push((await initialize()).status);
    expect(statuses).toEqual(Array(FAILURES).fill(502));
    const refused = await initialize(true);
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.retryAfter);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(OPEN_MS / 1_000);
    const body = JSON.parse(refused.text) as { error: { message: string } };
    expect(body.error.message).toContain(`${FAILURES} calls in a row, last ECONNREFUSED`);

    const open = await waitFor(
      "the instance to show the circuit OPEN",
      async () => {
        const state = await upstreamOf(id);
        return state?.circuit === "UPSTREAM_CIRCUIT_OPEN" ? state : undefined;
      },
      15_000,
    );
    expect(open).toMatchObject({ consecutiveFailures: FAILURES, lastErrorCode: "ECONNREFUSED" });
    expect(typeof open.openTime).toBe("string");
    // The SDK sees the same.
    const sdk = createBerthClient({ baseUrl: mesh.gateway.url, apiKey: mesh.adminKey });
    const seen = (await sdk.instances.getInstance({ id })).instance?.upstream;
    expect(seen?.circuit).toBe(UpstreamCircuit.OPEN);

    // Back on the same port: once the open time is over, the next call is the probe; it
    // succeeds and closes the circuit.
    upstream = await startEverythingServer(upstream.port);
    await new Promise((resolve) => setTimeout(resolve, OPEN_MS));
    const probe = await waitFor(
      "a probe to get through",
      async () => {
        const answer = await initialize();
        return answer.status === 200 ? answer : undefined;
      },
      10_000,
      250,
    );
    expect(probe.status).toBe(200);
    const closed = await waitFor(
      "the instance to show the circuit CLOSED",
      async () => {
        const state = await upstreamOf(id);
        return state?.circuit === "UPSTREAM_CIRCUIT_CLOSED" ? state : undefined;
      },
      15_000,
    );
    expect(closed.consecutiveFailures ?? 0).toBe(0);
    expect(closed.openTime).toBeUndefined();
  }, 180_000);
});
