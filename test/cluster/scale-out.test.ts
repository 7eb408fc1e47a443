import { randomUUID } from "node:crypto";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { pollUntil } from "@berth/testkit";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEverythingServer } from "../../services/gateway/test/support/mcp-upstream.js";
import {
  ensureImages,
  leftovers,
  newRunId,
  removeLeftovers,
} from "../../services/runtime/test/support/runtime-harness.js";
import { createLoad, type Ledger, newLedger } from "../faults/support/load.js";
import { type ProcessMesh, startProcessMesh } from "../faults/support/process-mesh.js";
import { startWatcher, type Watcher } from "./support/watcher.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const began = Date.now();
// Progress as it happens: a slow phase on a busy machine shows where the time went.
const note = (text: string) =>
  console.info(`[cluster +${((Date.now() - began) / 1_000).toFixed(1)} s] ${text}`);

/** The replica killed in each phase; the other one (index 1) survives it. */
const VICTIM = 0;
const SURVIVOR = 1;

interface Phase {
  fault: string;
  /** When the process was killed (ms since the epoch). */
  killedAt: number;
  /** From the restart to /readyz answering 200 on both gateways and the load balancer. */
  "ready after (ms)": number;
  /** From then until every instance's observed status is its desired one. */
  "converged after (ms)": number;
  /** MCP calls begun after the kill, and the most attempts one of them took. */
  "mcp calls": number;
  "max attempts": number;
}

// Issue 17's "Done when": the scaled-out topology (real Postgres, a three-node JetStream
// cluster with every stream on all three, two replicas of every service, two runtimes on one
// Docker engine, HAProxy in front) under a mixed load through the load balancer — creates,
// updates and deletes with request ids, MCP tool calls with the official SDK client — while one
// replica of each service and one NATS node are killed with SIGKILL in turn and started again.
// Every loop is bounded in count and time; every process is stopped by its PID.
describe("scaled out: two replicas of everything, three NATS nodes, HAProxy in front", () => {
  const runId = newRunId();
  const ledger: Ledger = newLedger();
  const phases: Phase[] = [];
  let mesh: ProcessMesh;
  let upstream: Awaited<ReturnType<typeof startEverythingServer>>;
  let load: ReturnType<typeof createLoad>;
  let watcher: Watcher;
  /** Instances the MCP load calls: a url one and an HTTP container. */
  const mcpTargets: string[] = [];
  /** Docker instances: those that must have one container each, and those deleted. */
  const dockerKept: string[] = [];
  const dockerDeleted: string[] = [];

  beforeAll(async () => {
    await ensureImages();
    upstream = await startEverythingServer();
    mesh = await startProcessMesh(runId, {
      replicas: 2,
      natsNodes: 3,
      // Verified keys stay cached for five minutes: only the revocation feed can make a
      // replica refuse a revoked key within the test's window.
      env: { API_KEY_CACHE_MS: "300000" },
    });
    note(`mesh ready (${JSON.stringify(mesh.pids())}); logs in ${mesh.logDir}`);
    load = createLoad(mesh.gatewayUrl, mesh.adminKey, ledger);
    // Watch on the gateway that is never killed, opened before any change.
    watcher = startWatcher(mesh.gatewayUrls[SURVIVOR]!, mesh.adminKey);
    const server = await load.call("POST", "/v1/servers", {
      name: "cluster-everything-http",
      image: "berth/mcp-everything:http",
      transport: "TRANSPORT_STREAMABLE_HTTP",
      port: 3001,
      path: "/mcp",
    });
    expect(server.status, JSON.stringify(server.json)).toBe(200);
    const url = await load.call("POST", "/v1/instances", {
      instance: {
        name: "cluster-remote",
        jsonSpec: {
          type: "url",
          endpoint: upstream.url,
          health_check: { interval: 2, timeout: 5 },
        },
      },
      requestId: randomUUID(),
    });
    expect(url.status, JSON.stringify(url.json)).toBe(200);
    for (const name of ["cluster-box-a", "cluster-box-b"]) {
      const box = await load.call("POST", "/v1/instances", {
        instance: {
          name,
          serverId: "cluster-everything-http",
          jsonSpec: { health_check: { interval: 2, timeout: 5 } },
        },
        requestId: randomUUID(),
      });
      expect(box.status, JSON.stringify(box.json)).toBe(200);
      dockerKept.push(box.json.id!);
    }
    mcpTargets.push("cluster-remote", "cluster-box-a");
    // The watcher is listening once it has seen the changes made so far.
    const listening = await pollUntil(() => watcher.seen("cluster-box-b"), 30_000, 200);
    expect(listening, `the watch stream on gateway ${SURVIVOR + 1} saw the first changes`).toBe(
      true,
    );
    note(`fixed instances converged in ${await load.converged(120_000, note)} ms`);
  }, 600_000);

  afterAll(async () => {
    await watcher?.stop();
    await mesh?.stop();
    await upstream?.stop();
    await removeLeftovers(runId);
  }, 120_000);

  /** One fault under load: kill -9, start again, wait for readiness, then convergence. */
  async function underLoad(
    fault: string,
    kill: () => Promise<void>,
    restart: () => Promise<void>,
    meanwhile: () => Promise<void> = async () => undefined,
  ): Promise<void> {
    const running = load.run({
      urlEndpoint: upstream.url,
      mcpInstances: mcpTargets,
      maxOps: 30,
      health: { interval: 10, timeout: 5 },
    });
    await sleep(1_500);
    note(`${fault}: killing`);
    await kill();
    const killedAt = Date.now();
    await meanwhile();
    await sleep(1_000);
    await restart();
    note(`${fault}: started again`);
    const ready = await mesh.waitReady(180_000);
    const readyAt = Date.now();
    note(`${fault}: ready after ${ready} ms`);
    await running.stop();
    await load.converged(120_000, note);
    const after = ledger.mcpAttempts.filter((call) => call.at >= killedAt);
    phases.push({
      fault,
      killedAt,
      "ready after (ms)": ready,
      "converged after (ms)": Date.now() - readyAt,
      "mcp calls": after.length,
      "max attempts": Math.max(0, ...after.map((call) => call.attempts)),
    });
    note(`${fault}: converged`);
    expect(mesh.unexpectedExits()).toEqual([]);
  }

  it("serves REST, gRPC (h2c) and MCP through the load balancer", async () => {
    const listed = await load.call("GET", "/v1/instances?pageSize=5");
    expect(listed.status).toBe(200);
    const bearer: Interceptor = (next) => (request) => {
      request.header.set("authorization", `Bearer ${mesh.adminKey}`);
      return next(request);
    };
    const grpc = createClient(
      InstancesService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [bearer] }),
    );
    const answer = await grpc.getInstance({ id: "cluster-remote" });
    expect(answer.instance?.name).toBe("cluster-remote");
  });

  it("refuses on one gateway, within a second, a key revoked through the other (bucket on three NATS nodes)", async () => {
    const created = await load.call("POST", "/v1/apiKeys", {
      displayName: "revoked across gateways",
      scopes: ["API_KEY_SCOPE_READ"],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const { apiKey, key: secret } = created.json as unknown as {
      apiKey: { id: string };
      key: string;
    };
    const get = (replica: number) =>
      fetch(`${mesh.gatewayUrls[replica]}/v1/servers?pageSize=1`, {
        headers: { authorization: `Bearer ${secret}` },
      }).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      });
    // Both replicas verified the key and hold it in their caches.
    expect([await get(0), await get(1)]).toEqual([200, 200]);
    const revoked = await fetch(`${mesh.gatewayUrls[0]}/v1/apiKeys/${apiKey.id}:revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${mesh.adminKey}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(revoked.status).toBe(200);
    const start = performance.now();
    let status = 200;
    while (performance.now() - start < 10_000 && status === 200) {
      status = await get(1);
      if (status === 200) await sleep(10);
    }
    const delayMs = Math.round(performance.now() - start);
    console.info(`gateway 2 refused the key revoked on gateway 1 after ${delayMs} ms`);
    expect(status, `still accepted ${delayMs} ms after the revocation`).toBe(401);
    expect(delayMs, "the revocation reached the other gateway within a second").toBeLessThan(1_000);
  });

  it("survives kill -9 of a gateway", async () => {
    await underLoad(
      "kill -9 gateway-1",
      () => mesh.kill("gateway", VICTIM),
      () => mesh.start("gateway", VICTIM),
    );
  }, 300_000);

  it("survives kill -9 of a registry", async () => {
    await underLoad(
      "kill -9 registry-1",
      () => mesh.kill("registry", VICTIM),
      () => mesh.start("registry", VICTIM),
    );
  }, 300_000);

  it("survives kill -9 of an instances replica", async () => {
    await underLoad(
      "kill -9 instances-1",
      () => mesh.kill("instances", VICTIM),
      () => mesh.start("instances", VICTIM),
    );
  }, 300_000);

  it("survives kill -9 of a runtime, and creates and deletes containers meanwhile", async () => {
    await underLoad(
      "kill -9 runtime-1",
      () => mesh.kill("runtime", VICTIM),
      () => mesh.start("runtime", VICTIM),
      async () => {
        // While one runtime is dead: one container instance goes, another comes.
        const gone = dockerKept.pop()!;
        const deleted = await load.call(
          "DELETE",
          `/v1/instances/${gone}?request_id=${randomUUID()}`,
        );
        expect(deleted.status).toBe(200);
        ledger.deleted.add(gone);
        dockerDeleted.push(gone);
        const box = await load.call("POST", "/v1/instances", {
          instance: {
            name: "cluster-box-c",
            serverId: "cluster-everything-http",
            jsonSpec: { health_check: { interval: 2, timeout: 5 } },
          },
          requestId: randomUUID(),
        });
        expect(box.status, JSON.stringify(box.json)).toBe(200);
        dockerKept.push(box.json.id!);
      },
    );
  }, 300_000);

  it("survives kill -9 of a NATS node", async () => {
    await underLoad(
      "kill -9 NATS node 1",
      () => mesh.killNatsNode(VICTIM),
      () => mesh.startNatsNode(VICTIM),
    );
  }, 300_000);

  it("applied every acknowledged change exactly once, left one container per running box, and the surviving gateway's Watch saw every change", async () => {
    const all = await load.list();
    const byId = new Map(all.map((i) => [i.id!, i]));
    for (const [id, name] of ledger.created) {
      if (ledger.deleted.has(id)) expect(byId.has(id), `${name} deleted`).toBe(false);
      else expect(byId.get(id)?.name, `${name} kept`).toBe(name);
    }
    const names = all.map((i) => i.name);
    expect(new Set(names).size, "no instance twice").toBe(names.length);
    // Every acknowledged update applied once: the revision grew by one per update.
    for (const [id, { count, description }] of ledger.updates) {
      if (ledger.deleted.has(id)) continue;
      expect(byId.get(id)?.description, id).toBe(description);
      expect(Number(byId.get(id)?.revision), `${id} updated ${count} times`).toBe(1 + count);
    }
    // Exactly one container per running container instance (and one port guard in front of
    // it: the image serves HTTP), none for the deleted one.
    const containers = (await leftovers(runId)).containers;
    const owners = containers.map((c) => c.Labels["berth.instance"] ?? "");
    const servers = containers
      .filter((c) => c.Labels["berth.role"] !== "guard")
      .map((c) => c.Labels["berth.instance"] ?? "");
    const guards = containers
      .filter((c) => c.Labels["berth.role"] === "guard")
      .map((c) => c.Labels["berth.instance"] ?? "");
    for (const id of dockerKept) {
      expect(
        servers.filter((owner) => owner === id),
        `containers of ${id}`,
      ).toHaveLength(1);
      expect(
        guards.filter((owner) => owner === id),
        `port guards of ${id}`,
      ).toHaveLength(1);
    }
    for (const id of dockerDeleted) expect(owners, `containers of deleted ${id}`).not.toContain(id);
    expect(owners.filter((owner) => !byId.has(owner))).toEqual([]);

    // The Watch stream on the gateway that was never killed saw every acknowledged change.
    const missed = await pollUntil(() => watcher.missing(ledger).length === 0, 15_000, 200);
    expect(missed ? [] : watcher.missing(ledger), "changes the Watch stream did not show").toEqual(
      [],
    );

    console.info("scale-out: each fault under load");
    console.table(phases.map(({ killedAt: _, ...row }) => row));
    const statuses = Object.fromEntries(ledger.statuses);
    console.info(
      `answers by status ${JSON.stringify(statuses)}; ${ledger.unreachable} attempts found no gateway or no session; ` +
        `${ledger.created.size} creates, ${[...ledger.updates.values()].reduce((n, u) => n + u.count, 0)} updates, ` +
        `${ledger.deleted.size} deletes acknowledged; ${ledger.mcpCalls} MCP calls answered; ` +
        `watch: ${watcher.events()} events, ${watcher.reconnects()} reconnects`,
    );
    expect(ledger.odd, "answers other than 2xx, 4xx or 503").toEqual([]);
    expect(ledger.inconsistencies).toEqual([]);
    expect(ledger.abandoned).toEqual([]);
    expect(phases).toHaveLength(5);
    for (const phase of phases) {
      expect(phase["mcp calls"], `MCP calls after ${phase.fault}`).toBeGreaterThan(0);
      // Within one retry by the client: at most two attempts.
      expect(phase["max attempts"], `MCP attempts after ${phase.fault}`).toBeLessThanOrEqual(2);
    }
  }, 120_000);
});
