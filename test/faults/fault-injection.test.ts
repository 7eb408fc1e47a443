import { listDeadLetters } from "@berth/platform";
import { connectAs } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEverythingServer } from "../../services/gateway/test/support/mcp-upstream.js";
import {
  docker,
  ensureImages,
  leftovers,
  newRunId,
  removeLeftovers,
} from "../../services/runtime/test/support/runtime-harness.js";
import { createLoad, type Ledger, newLedger } from "./support/load.js";
import { type ProcessMesh, type ServiceName, startProcessMesh } from "./support/process-mesh.js";

/** Issue 21's bound on convergence after a fault, reported for every fault in the table. */
const CONVERGE_TARGET_MS = 10_000;
/**
 * How long the suite waits for convergence before it calls a fault a failure: recovery must
 * happen by itself, but how fast depends on the machine (a CI runner busy with other test files).
 */
const CONVERGE_WAIT_MS = 180_000;
const OUTAGE_MS = 6_000;
/** Control-plane operations per fault (the MCP loop makes twice as many calls). */
const OPS_PER_FAULT = 40;
/** Health probes of the load's url instances: the first is immediate, later ones every 10 s. */
const LOAD_HEALTH = { interval: 10, timeout: 5 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const began = Date.now();
// Progress as it happens: a slow phase on a busy machine shows where the time went.
const note = (text: string) =>
  console.info(`[faults +${((Date.now() - began) / 1_000).toFixed(1)} s] ${text}`);

interface Row {
  fault: string;
  /** From the end of the fault (service restarted, engine started) to /readyz answering 200. */
  "back after (ms)": number;
  /**
   * From the later of readiness and the load's last acknowledged write until every instance's
   * observed status is its desired one: the product's convergence (the restarted process's own
   * start-up is in "back after").
   */
  "converged after (ms)": number;
  "within 10 s": boolean;
  instances: number;
}

// Issue 21's fault-injection suite: the real mesh as four processes on a Postgres and a NATS of
// its own, under a mixed load (creates, updates and deletes with request ids; MCP calls to a url
// instance and a stdio container instance), through kill -9 of each service, NATS and Postgres
// outages and a poison event. Every loop is bounded in count and time.
// It needs Docker, Postgres and NATS binaries, and fails (never skips) when one is missing.
describe("fault injection under load", () => {
  const runId = newRunId();
  const ledger: Ledger = newLedger();
  const table: Row[] = [];
  let mesh: ProcessMesh;
  let upstream: Awaited<ReturnType<typeof startEverythingServer>>;
  let load: ReturnType<typeof createLoad>;
  const fixed: string[] = [];

  beforeAll(async () => {
    await docker.ping().catch((error: Error) => {
      throw new Error(`the fault suite needs the Docker engine: ${error.message}`);
    });
    await ensureImages();
    upstream = await startEverythingServer();
    mesh = await startProcessMesh(runId, {
      started: (partial) => {
        mesh = partial; // stopped by afterAll even if this hook runs out of time
      },
    });
    note(`mesh ready; service logs in ${mesh.logDir}`);
    load = createLoad(mesh.gatewayUrl, mesh.adminKey, ledger);
    // Two instances the MCP load calls: a url one and a stdio container of the starter catalog.
    const url = await load.call("POST", "/v1/instances", {
      instance: {
        name: "faults-remote",
        jsonSpec: {
          type: "url",
          endpoint: upstream.url,
          health_check: { interval: 2, timeout: 5 },
        },
      },
    });
    const stdio = await load.call("POST", "/v1/instances", {
      instance: {
        name: "faults-stdio",
        serverId: "io.github.modelcontextprotocol/everything",
        jsonSpec: { health_check: { interval: 2, timeout: 5 } },
      },
    });
    expect([url.status, stdio.status]).toEqual([200, 200]);
    fixed.push(url.json.id ?? "", stdio.json.id ?? "");
    note(`fixed instances converged in ${await converged(CONVERGE_WAIT_MS)} ms`);
  }, 900_000);
  afterAll(async () => {
    // The convergence table, whatever failed: the figures the issue asks to report.
    console.info("fault injection: convergence after each fault");
    console.table(table);
    await mesh?.stop();
    await upstream?.stop();
    await removeLeftovers(runId);
  }, 120_000);

  const instances = () => load.list();
  const converged = (limitMs: number) => load.converged(limitMs, note);

  /** One fault under load: inject, restore, wait for readiness, then time the convergence. */
  async function underLoad(
    fault: string,
    inject: () => Promise<void>,
    restore: () => Promise<void>,
  ): Promise<void> {
    const running = load.run({
      urlEndpoint: upstream.url,
      mcpInstances: fixed,
      maxOps: OPS_PER_FAULT,
      health: LOAD_HEALTH,
    });
    let back: number;
    let readyAt: number;
    try {
      await sleep(1_500);
      note(`${fault}: injecting`);
      await inject();
      await restore();
      note(`${fault}: restored`);
      back = await mesh.waitReady(CONVERGE_WAIT_MS);
      readyAt = Date.now();
      note(`${fault}: ready after ${back} ms`);
    } finally {
      await running.stop();
    }
    // The last write the load had acknowledged: convergence counts from it or from readiness.
    const since = Math.max(readyAt, running.lastAcknowledgedAt());
    note(`${fault}: load stopped`);
    await converged(CONVERGE_WAIT_MS);
    const took = Date.now() - since;
    note(`${fault}: converged ${took} ms after ready and the last write`);
    table.push({
      fault,
      "back after (ms)": back,
      "converged after (ms)": took,
      "within 10 s": took <= CONVERGE_TARGET_MS,
      instances: (await instances()).length,
    });
    expect(mesh.unexpectedExits()).toEqual([]);
  }

  const killAndRestart = (name: ServiceName) => async () => {
    await underLoad(
      `kill -9 ${name}`,
      () => mesh.kill(name),
      async () => {
        await sleep(500);
        await mesh.start(name);
      },
    );
  };

  for (const name of ["registry", "instances", "gateway"] as const) {
    it(`survives kill -9 of the ${name} service`, killAndRestart(name), 600_000);
  }

  it("survives kill -9 of the runtime service, and an MCP session on a stdio instance outlives it", async () => {
    // A session opened through the gateway with the official SDK client before the kill.
    const transport = new StreamableHTTPClientTransport(
      new URL(`${mesh.gatewayUrl}/mcp/${fixed[1]}`),
      { requestInit: { headers: { authorization: `Bearer ${mesh.adminKey}` } } },
    );
    const session = new Client({ name: "faults-stdio-session", version: "1.0.0" });
    await session.connect(transport, { timeout: 30_000 });
    try {
      const sessionId = transport.sessionId;
      expect(sessionId).toBeTruthy();
      const echo = async (message: string) =>
        (await session.callTool({ name: "echo", arguments: { message } }, undefined, {
          timeout: 30_000,
        })) as { content: Array<{ text?: string }> };
      expect((await echo("before")).content[0]?.text).toBe("Echo: before");
      await killAndRestart("runtime")();
      // The same session, answered by the same server process, after the runtime came back.
      expect((await echo("after")).content[0]?.text).toBe("Echo: after");
      expect(transport.sessionId).toBe(sessionId);
    } finally {
      await session.close().catch(() => undefined);
    }
  }, 600_000);

  it("survives NATS down for 6 s", async () => {
    await underLoad(
      "NATS down 6 s",
      () => mesh.stopNats(),
      async () => {
        await sleep(OUTAGE_MS);
        await mesh.startNats();
      },
    );
  }, 600_000);

  it("survives Postgres down for 6 s", async () => {
    await underLoad(
      "Postgres down 6 s",
      () => mesh.stopPostgres(),
      async () => {
        await sleep(OUTAGE_MS);
        await mesh.startPostgres();
      },
    );
  }, 600_000);

  it("dead-letters a poison event and creates nothing from it", async () => {
    const before = (await instances()).length;
    const nc = await connectAs(mesh.natsAdminUrl);
    try {
      await underLoad(
        "poison event",
        async () => {
          // Not an envelope at all, on the subject the runtime consumes.
          await nc.publish("berth.instances.instance.created", new TextEncoder().encode("{oops"));
          await nc.flush();
        },
        async () => undefined,
      );
      const letters = (await listDeadLetters(nc, { pageSize: 100, service: "runtime" }))
        .deadLetters;
      expect(letters.length).toBeGreaterThanOrEqual(1);
    } finally {
      await nc.close();
    }
    expect((await instances()).length).toBeGreaterThanOrEqual(before);
  }, 600_000);

  it("lost nothing acknowledged, applied nothing twice, left no orphan, answered only 2xx, 4xx for mistakes, or 503", async () => {
    const all = await instances();
    const byId = new Map(all.map((i) => [i.id!, i]));
    // Every acknowledged create exists unless an acknowledged delete removed it, and once.
    for (const [id, name] of ledger.created) {
      if (ledger.deleted.has(id)) expect(byId.has(id), `${name} deleted`).toBe(false);
      else expect(byId.get(id)?.name, `${name} kept`).toBe(name);
    }
    const names = all.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    // Every acknowledged update is there, applied once: the revision grew by one per update.
    for (const [id, { count, description }] of ledger.updates) {
      if (ledger.deleted.has(id)) continue;
      const instance = byId.get(id)!;
      expect(instance.description).toBe(description);
      expect(Number(instance.revision)).toBe(1 + count);
    }
    // One container per running container instance, none for anything else.
    const containers = (await leftovers(runId)).containers;
    const owners = containers.map((c) => c.Labels["berth.instance"]);
    expect(owners.filter((id) => !byId.has(id!))).toEqual([]);
    expect(new Set(owners).size).toBe(owners.length);
    expect(owners).toContain(fixed[1]);

    const statuses = Object.fromEntries(ledger.statuses);
    console.info(
      `answers by status ${JSON.stringify(statuses)}; ${ledger.unreachable} attempts found no gateway or no session; ` +
        `${ledger.created.size} creates, ${[...ledger.updates.values()].reduce((n, u) => n + u.count, 0)} updates, ` +
        `${ledger.deleted.size} deletes acknowledged; ${ledger.mcpCalls} MCP calls answered; ${ledger.mistakes} mistakes refused`,
    );
    expect(ledger.odd, "answers other than 2xx, 4xx or 503").toEqual([]);
    expect(ledger.inconsistencies).toEqual([]);
    expect(ledger.abandoned).toEqual([]);
    const allowed = (status: number) => status < 300 || status === 400 || status === 503;
    expect(
      Object.keys(statuses)
        .map(Number)
        .filter((s) => !allowed(s)),
    ).toEqual([]);
    expect(ledger.mcpCalls).toBeGreaterThan(0);
    expect(ledger.mistakes).toBeGreaterThan(0);
    // Every fault converged by itself (underLoad waited for it); how fast is in the table above.
    expect(table.map((row) => row.fault)).toHaveLength(7);
  }, 120_000);
});
