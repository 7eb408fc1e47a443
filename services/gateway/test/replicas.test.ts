import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBerthClient } from "@berth/sdk";
import { berthNatsUsers, type NatsHandle, pollUntil, startNats, useEngines } from "@berth/testkit";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBerth } from "../../../packages/cli/test/support/run-berth.js";
import { ALL_SCOPES, createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";
import { type GatewayReplica, startGatewayReplica } from "./support/gateway-replica.js";
import { startEverythingServer } from "./support/mcp-upstream.js";
import { MemoryOAuthProvider, signIn } from "./support/oauth-client.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Verified keys are cached for five minutes on both replicas: only the revocation feed can make
// gateway B refuse a key within the test's polling window. A slow NATS on a busy machine must
// not turn the shared limit into two local ones (that fallback is tested on its own below).
const REPLICA_ENV = { API_KEY_CACHE_MS: "300000", RATE_LIMIT_STORE_TIMEOUT_MS: "20000" };

describe("two gateway replicas on one mesh", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let b: GatewayReplica;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { ...REPLICA_ENV, BERTH_RUNTIME_LABELS: `berth.test=${randomUUID()}` },
    });
    b = await startGatewayReplica(mesh, engines, REPLICA_ENV);
  });
  afterAll(async () => {
    await b?.stop();
    await mesh?.stop();
    await engines?.cleanup();
  });

  it("refuses on gateway B a key revoked through gateway A, without waiting for B's cache", async () => {
    const { id, key } = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    // Both replicas have verified the key and hold it in their caches.
    expect((await b.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);
    expect((await mesh.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);
    expect((await b.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);

    const revoked = await mesh.rest("POST", `/v1/apiKeys/${id}:revoke`, {});
    expect(revoked.status).toBe(200);
    const start = performance.now();
    let answer: Response | undefined;
    while (performance.now() - start < 20_000) {
      answer = await b.rest("GET", "/v1/servers", undefined, key);
      if (answer.status !== 200) break;
      await sleep(5);
    }
    const delayMs = Math.round(performance.now() - start);
    console.info(`gateway B refused the key revoked on gateway A after ${delayMs} ms`);
    expect(answer?.status, `gateway B still accepted the key ${delayMs} ms after`).toBe(401);
    const body = (await answer!.json()) as { error: { message: string } };
    expect(body.error.message).toContain("revoked");
    // And A, which revoked it, refuses it at once.
    expect((await mesh.rest("GET", "/v1/servers", undefined, key)).status).toBe(401);
  });
  it("narrows and then refuses a user's token on gateway B once their membership ends and they are removed on gateway A", {
    timeout: 120_000,
  }, async () => {
    // Replicas behind one load balancer share one public URL: tokens minted for it are valid on
    // both. User records and memberships are cached for five minutes (REPLICA_ENV).
    const c = await startGatewayReplica(mesh, engines, {
      ...REPLICA_ENV,
      BERTH_PUBLIC_URL: mesh.gateway.url,
    });
    try {
      const password = "correct horse battery staple";
      const user = await mesh.rest("POST", "/v1/users", {
        username: "replica-ana",
        password,
        // Every scope (the SDK client asks for all the server offers): her role decides.
        scopes: ALL_SCOPES,
        team: "default",
        role: "ROLE_VIEWER",
      });
      expect(user.status, await user.clone().text()).toBe(200);
      const userId = ((await user.json()) as { id: string }).id;
      const created = await mesh.rest("POST", "/v1/instances", {
        instance: {
          name: "ana-sees-this",
          jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" },
        },
      });
      expect(created.status, await created.clone().text()).toBe(200);
      const instanceId = ((await created.json()) as { id: string }).id;

      // Ana signs in on gateway A (the embedded authorization server).
      const provider = new MemoryOAuthProvider();
      expect(await auth(provider, { serverUrl: mesh.gateway.url })).toBe("REDIRECT");
      const signedIn = await signIn(provider.authorizations[0]!, {
        username: "replica-ana",
        password,
      });
      if (signedIn.kind !== "code")
        throw new Error(`sign-in ended with ${JSON.stringify(signedIn)}`);
      expect(
        await auth(provider, { serverUrl: mesh.gateway.url, authorizationCode: signedIn.code }),
      ).toBe("AUTHORIZED");
      const token = provider.saved!.access_token;
      const read = (path: string) => c.rest("GET", path, undefined, token);
      // Replica C has her user record and memberships cached.
      expect((await read(`/v1/instances/${instanceId}`)).status).toBe(200);
      expect((await read(`/v1/instances/${instanceId}`)).status).toBe(200);

      /** Polls C until `path` answers a status `done` accepts (or 20 s pass). */
      const waitOnC = async (path: string, done: (status: number) => boolean) => {
        const start = performance.now();
        let seen = 0;
        while (performance.now() - start < 20_000) {
          seen = (await read(path)).status;
          if (done(seen)) break;
          await sleep(5);
        }
        return { seen, ms: Math.round(performance.now() - start) };
      };
      // Her membership ends on A (her only one): C no longer lets her read the team's instance.
      const removed = await mesh.rest("DELETE", "/v1/teams/default/members/replica-ana");
      expect(removed.status, await removed.clone().text()).toBe(200);
      const narrowed = await waitOnC(`/v1/instances/${instanceId}`, (status) => status !== 200);
      console.info(`gateway C narrowed the membership ended on gateway A after ${narrowed.ms} ms`);
      expect([403, 404], `C still answered ${narrowed.seen} after ${narrowed.ms} ms`).toContain(
        narrowed.seen,
      );

      // She is removed on A: C refuses her token.
      const deleted = await mesh.rest("DELETE", `/v1/users/${userId}`);
      expect(deleted.status, await deleted.clone().text()).toBe(200);
      const refused = await waitOnC("/v1/instances", (status) => status === 401);
      console.info(`gateway C refused the user removed on gateway A after ${refused.ms} ms`);
      expect(refused.seen, `C still answered ${refused.seen} after ${refused.ms} ms`).toBe(401);
    } finally {
      await c.stop();
    }
  });

  it("shares one key's rate limit between the replicas", async () => {
    // Ten tokens and practically no refill: across both replicas, ten calls pass, not twenty.
    const { key } = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_READ"],
      rateLimitPerSecond: 0.001,
      rateLimitBurst: 10,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const via = i % 2 === 0 ? mesh : b;
      statuses.push((await via.rest("GET", "/v1/servers", undefined, key)).status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    // The first ten pass (five on each replica), every later one is refused on either.
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    const refused = await b.rest("GET", "/v1/servers", undefined, key);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("shares a key's burst between concurrent calls on both replicas", async () => {
    const { key } = await createKey(mesh, {
      scopes: ["API_KEY_SCOPE_READ"],
      rateLimitPerSecond: 0.001,
      rateLimitBurst: 15,
    });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? mesh : b).rest("GET", "/v1/servers", undefined, key).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(15);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
  });

  it("streams every instance change made through gateway A to WatchInstances on gateway B: REST, SDK and CLI", async () => {
    const controller = new AbortController();
    // REST: newline-delimited JSON, one WatchInstancesResponse per line.
    let restText = "";
    const rest = fetch(`${b.url}/v1/instances:watch`, {
      headers: { authorization: `Bearer ${mesh.adminKey}` },
      signal: controller.signal,
    })
      .then(async (response) => {
        const decoder = new TextDecoder();
        for await (const chunk of response.body!) restText += decoder.decode(chunk);
      })
      .catch(() => undefined);
    // The SDK (Connect protocol).
    const sdkSeen: Array<{ name: string; deleted: boolean }> = [];
    const berth = createBerthClient({ baseUrl: b.url, apiKey: mesh.adminKey });
    const sdk = (async () => {
      for await (const message of berth.instances.watchInstances(
        {},
        { signal: controller.signal, timeoutMs: 150_000 },
      )) {
        sdkSeen.push({ name: message.instance?.name ?? "", deleted: message.deleted });
      }
    })().catch(() => undefined);
    // The CLI, as a user runs it.
    const cli = startBerth(["instances", "watch", "--timeout", "150"], {
      url: b.url,
      apiKey: mesh.adminKey,
      timeoutMs: 170_000,
    });
    const create = async (name: string) => {
      const response = await mesh.rest("POST", "/v1/instances", {
        instance: { name, jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" } },
      });
      expect(response.status, await response.clone().text()).toBe(200);
      return ((await response.json()) as { id: string }).id;
    };
    // A probe changed through A until all three watchers show it: they are all listening.
    const probe = await create("probe-all");
    let touches = 0;
    const listening = await pollUntil(
      async () => {
        if (
          restText.includes("probe-all") &&
          sdkSeen.some((m) => m.name === "probe-all") &&
          cli.stdout().includes("probe-all")
        ) {
          return true;
        }
        await mesh.rest("PATCH", `/v1/instances/${probe}`, {
          instance: { description: `touch ${++touches}` },
          updateMask: "description",
        });
        return false;
      },
      // The CLI is a new Node process: on a busy machine it takes a while to start.
      90_000,
      500,
    );
    expect(listening, `REST ${restText} SDK ${JSON.stringify(sdkSeen)} CLI ${cli.stdout()}`).toBe(
      true,
    );
    await create("made-through-a");
    const seenEverywhere = await pollUntil(
      () =>
        restText.includes('"name":"made-through-a"') &&
        sdkSeen.some((m) => m.name === "made-through-a") &&
        /made-through-a {2}PENDING {2}generation 1/.test(cli.stdout()),
      20_000,
    );
    expect(
      seenEverywhere,
      `REST ${restText} SDK ${JSON.stringify(sdkSeen)} CLI ${cli.stdout()}`,
    ).toBe(true);
    controller.abort();
    cli.child.kill("SIGINT");
    expect((await cli.done).code).toBe(130);
    // The streams were aborted; their ends are not waited for long (the SDK's stream was seen
    // to outlive its abort until its deadline: a separate question).
    await Promise.race([Promise.all([rest, sdk]), sleep(5_000)]);
  }, 180_000);

  it("serves an MCP session opened on one gateway through another, also after the first is gone", async () => {
    const everything = await startEverythingServer();
    // A third replica, which this test may stop: the session starts there.
    let first: GatewayReplica | undefined = await startGatewayReplica(mesh, engines, REPLICA_ENV);
    const clients: Client[] = [];
    try {
      const created = await mesh.rest("POST", "/v1/instances", {
        instance: { name: "shared-session", jsonSpec: { type: "url", endpoint: everything.url } },
      });
      expect(created.status, await created.clone().text()).toBe(200);
      const { id } = (await created.json()) as { id: string };
      const running = await pollUntil(
        async () =>
          ((await (await mesh.rest("GET", `/v1/instances/${id}`)).json()) as { status: string })
            .status === "INSTANCE_STATUS_RUNNING",
        30_000,
        200,
      );
      expect(running, "the url instance is RUNNING").toBe(true);
      const { key } = await createKey(mesh, { scopes: ["API_KEY_SCOPE_MCP"] });
      const requestInit = { headers: { authorization: `Bearer ${key}` } };
      const onFirst = new StreamableHTTPClientTransport(
        new URL(`${first.url}/mcp/shared-session`),
        { requestInit },
      );
      const clientA = new Client({ name: "replica-test-a", version: "1.0.0" });
      clients.push(clientA);
      await clientA.connect(onFirst);
      const sessionId = onFirst.sessionId;
      expect(sessionId, "the upstream opened a session").toBeTruthy();
      const echo = async (client: Client, message: string) =>
        (await client.callTool({ name: "echo", arguments: { message } })).content;
      expect(await echo(clientA, "via the first")).toEqual([
        { type: "text", text: "Echo: via the first" },
      ]);
      // The same session, its next calls sent to gateway B (no new initialize).
      const onB = new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/shared-session`), {
        requestInit,
        sessionId,
      });
      const clientB = new Client({ name: "replica-test-b", version: "1.0.0" });
      clients.push(clientB);
      await clientB.connect(onB);
      expect(await echo(clientB, "via B")).toEqual([{ type: "text", text: "Echo: via B" }]);
      // The replica the session started on goes away; the upstream still holds the session.
      await first.stop();
      first = undefined;
      expect(await echo(clientB, "after the first is gone")).toEqual([
        { type: "text", text: "Echo: after the first is gone" },
      ]);
      expect(onB.sessionId).toBe(sessionId);
    } finally {
      for (const client of clients) await client.close().catch(() => undefined);
      await first?.stop();
      await everything.stop();
    }
  });

  describe("a gateway whose NATS goes away", () => {
    let nats: NatsHandle | undefined;
    let store: string | undefined;
    let c: GatewayReplica | undefined;

    afterAll(async () => {
      await c?.stop();
      await nats?.stop();
      if (store) await rm(store, { recursive: true, force: true });
    });

    it("keeps answering with its own rate limits, promptly, and never crashes", async () => {
      // A NATS server of its own, so that stopping it leaves the rest of the mesh alone.
      store = await mkdtemp(join(tmpdir(), "berth-replica-nats-"));
      nats = await startNats({
        storeDir: join(store, "js"),
        users: berthNatsUsers(engines.natsPasswords),
      });
      c = await startGatewayReplica(mesh, engines, { NATS_URL: nats.url });
      const { key } = await createKey(mesh, {
        scopes: ["API_KEY_SCOPE_READ"],
        rateLimitPerSecond: 0.001,
        rateLimitBurst: 4,
      });
      expect((await c.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);
      await nats.stop();
      nats = undefined;
      // Every call is answered (none waits on the store for long) and the limit still holds:
      // this replica's own bucket (a full one: it had not seen the shared one) decides.
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const answer = await c.rest("GET", "/v1/servers", undefined, key);
        statuses.push(answer.status);
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.slice(4)).toEqual([429, 429, 429, 429]);
      // Still alive: its health endpoint answers (NATS reported down, Postgres up).
      const health = await fetch(`${c.url}/healthz`);
      expect(health.status).toBeLessThan(600);
    });
  });
});
