import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig } from "@berth/platform";
import { ConnectInstanceResponseSchema, createBerthClient, Transport } from "@berth/sdk";
import { useEngines } from "@berth/testkit";
import { toJson } from "@bufbuild/protobuf";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../../../packages/cli/test/support/run-berth.js";
import { serviceMeshEnv, startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { newRunId, removeLeftovers, waitFor } from "../../runtime/test/support/runtime-harness.js";
import { type Gateway, gatewayEnv, startGateway } from "../src/index.js";
import { actorIdOf } from "../src/oauth/token-verifier.js";
import { type ExternalIssuer, startExternalIssuer } from "./support/external-issuer.js";
import { bearerCall, createRunningInstance, memoryLogger } from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";
import { initializeWith, MemoryOAuthProvider, signIn } from "./support/oauth-client.js";
import { type ProtectedUpstream, startProtectedUpstream } from "./support/protected-upstream.js";

type Json = Record<string, unknown>;
const PASSWORD = "correct horse battery staple";
// The upstream's tokens live 65 s and the gateway refreshes those with less than 60 s left: a
// token is used for about 5 s, then refreshed on the next call (no test waits on a clock).
const UPSTREAM_TOKEN_SECONDS = 65;

// Delegated upstream credentials end to end with real parts: a third-party MCP server (the
// official SDK, Streamable HTTP) protected by its own OpenID provider (oidc-provider), a url
// instance declaring json_spec.delegation, two Berth users signed in with the MCP SDK's OAuth
// client against the embedded authorization server, each connecting their own upstream account
// through the gateway's flow; real Postgres, NATS and the runtime's health probe.
describe("delegated upstream credentials", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let gateway: Gateway;
  let issuer: ExternalIssuer;
  let upstream: ProtectedUpstream;
  let db: pg.Client;
  const logLines: string[] = [];
  const configDirs: string[] = [];
  const clients: Client[] = [];
  let everything: Awaited<ReturnType<typeof startEverythingServer>> | undefined;
  const stops: Array<() => Promise<void>> = [];

  const admin = (method: string, path: string, body?: unknown) =>
    bearerCall(gateway.url, mesh.apiKey, method, path, body);

  /** A Berth user signed in with the MCP SDK's OAuth client: a gateway-wide access token. */
  const berthToken = async (username: string) => {
    const provider = new MemoryOAuthProvider();
    const serverUrl = gateway.url.replace("0.0.0.0", "127.0.0.1");
    expect(await auth(provider, { serverUrl, scope: "mcp" })).toBe("REDIRECT");
    const signedIn = await signIn(provider.authorizations[0]!, { username, password: PASSWORD });
    if (signedIn.kind !== "code") throw new Error(`sign-in ended with ${JSON.stringify(signedIn)}`);
    expect(
      await auth(provider, { serverUrl, scope: "mcp", authorizationCode: signedIn.code }),
    ).toBe("AUTHORIZED");
    return provider.saved!.access_token;
  };

  /** An MCP client on /mcp/upstream (or another path) with a Berth token; the client, or the error. */
  const mcpClient = async (token: string, path = "/mcp/upstream") => {
    const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}${path}`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: "delegation-test", version: "1.0.0" });
    try {
      await client.connect(transport, { timeout: 30_000 });
      clients.push(client);
      return { client };
    } catch (error) {
      return { error: error as Error };
    }
  };

  const whoami = async (client: Client, caller: string) => {
    const result = (await client.callTool({ name: "whoami", arguments: { caller } })) as {
      content: Array<{ text?: string }>;
    };
    return result.content[0]?.text;
  };

  /** Starts the flow over REST: the response's text and its authorization URL. */
  const startOverRest = async (token: string, instance = "upstream") => {
    const started = await bearerCall(
      gateway.url,
      token,
      "POST",
      `/v1/instances/${instance}:connect`,
      {},
    );
    expect(started.status, started.text).toBe(200);
    return { text: started.text, url: started.body.authorizationUrl as string };
  };
  /** Starts the flow with the SDK (Connect protocol). */
  const startWithSdk = async (token: string) => {
    const berth = createBerthClient({ baseUrl: gateway.url, accessToken: token });
    const started = await berth.delegation.connectInstance({ instance: "upstream" });
    expect(started.expireTime, "an expiry").toBeDefined();
    return {
      text: JSON.stringify(toJson(ConnectInstanceResponseSchema, started)),
      url: started.authorizationUrl,
    };
  };
  /** Starts the flow with the CLI, signed in (`berth login`'s credentials file holds the token). */
  const startWithCli = async (token: string) => {
    const dir = await mkdtemp(join(tmpdir(), "berth-delegation-"));
    configDirs.push(dir);
    await writeFile(
      join(dir, "credentials.json"),
      JSON.stringify({
        [gateway.url]: {
          tokens: { access_token: token, token_type: "Bearer" },
          expiresAt: Date.now() + 600_000,
        },
      }),
      { mode: 0o600 },
    );
    const run = await runBerth(["instances", "connect", "upstream", "--no-browser"], {
      url: gateway.url,
      env: { BERTH_CONFIG_DIR: dir },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("Open this address to connect your account");
    const url = /^(http\S+)$/m.exec(run.stdout)?.[1];
    expect(url, run.stdout).toBeDefined();
    return { text: run.stdout + run.stderr, url: url! };
  };

  /** Connects a Berth user's upstream account: the gateway's flow, the user signing in upstream. */
  const connectUpstream = async (
    start: { text: string; url: string },
    upstreamUser: string,
    instance = "upstream",
    resource = upstream.url,
  ) => {
    const started = start;
    const authorizationUrl = new URL(started.url);
    expect(authorizationUrl.origin).toBe(issuer.issuer);
    expect(authorizationUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorizationUrl.searchParams.get("resource")).toBe(resource);
    const callback = `${gateway.url}/delegation/callback`;
    expect(authorizationUrl.searchParams.get("redirect_uri")).toBe(callback);
    const signedIn = await signIn(
      authorizationUrl,
      { username: upstreamUser, password: PASSWORD },
      { url: callback, deliver: false },
    );
    if (signedIn.kind !== "code") throw new Error(`upstream sign-in: ${JSON.stringify(signedIn)}`);
    const landed = await fetch(
      `${callback}?${new URLSearchParams({ code: signedIn.code, state: signedIn.state ?? "" })}`,
    );
    const page = await landed.text();
    expect(landed.status, page).toBe(200);
    expect(page).toContain(`Connected to instance ${instance}`);
    return { started, page, code: signedIn.code, state: signedIn.state ?? "" };
  };

  /** Berth users and their upstream accounts (`<name>-upstream`), with the same password. */
  const createUsers = async (...usernames: string[]) => {
    for (const username of usernames) {
      const created = await admin("POST", "/v1/users", { username, password: PASSWORD });
      expect(created.status, created.text).toBe(200);
      issuer.users.set(`${username}-upstream`, PASSWORD);
    }
  };
  /** A url instance, RUNNING: its id. */
  const createUrlInstance = (name: string, jsonSpec: Json) =>
    createRunningInstance(admin, name, jsonSpec);
  /** The text of a tool call's first content item. */
  const textOf = (result: unknown) =>
    (result as { content: Array<{ text?: string }> }).content[0]?.text;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    issuer = await startExternalIssuer(() => upstream.url, {
      accessTokenTtlSeconds: UPSTREAM_TOKEN_SECONDS,
    });
    upstream = await startProtectedUpstream(issuer.issuer);
    issuer.users.set("alice-upstream", PASSWORD);
    issuer.users.set("bob-upstream", PASSWORD);
    // The gateway under test, its log in memory at debug (every line it writes).
    gateway = await startGateway(
      loadConfig(gatewayEnv, {
        ...mesh.env,
        ...serviceMeshEnv("gateway", engines),
        HTTP_PORT: "0",
        BERTH_DELEGATION_REFRESH_SECONDS: "60",
      }),
      memoryLogger(logLines),
    );
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await db?.end();
    await Promise.all(configDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    await gateway?.stop();
    await mesh?.stop();
    await upstream?.stop();
    await everything?.stop();
    await Promise.allSettled(stops.map((stop) => stop()));
    await issuer?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("two users each reach the upstream with their own token, refreshed; never another's, never their Berth token; the audit trail names each", async () => {
    for (const username of ["alice", "bob"]) {
      const created = await admin("POST", "/v1/users", { username, password: PASSWORD });
      expect(created.status, created.text).toBe(200);
    }
    // The runtime's probe gets the upstream's 401: up, asking each user for their credential.
    const instanceId = await createUrlInstance("upstream", {
      type: "url",
      endpoint: upstream.url,
      delegation: { type: "oauth" },
    });

    const alice = await berthToken("alice");
    const bob = await berthToken("bob");

    // Not connected yet: a clear MCP error naming how to connect, not a crash or a 401.
    const early = await mcpClient(alice);
    expect(early.error?.message).toContain("berth instances connect upstream");
    expect(early.error?.message).toContain(`/v1/instances/${instanceId}:connect`);
    // An API key has no upstream account.
    const keyed = await mcpClient(mesh.apiKey);
    expect(keyed.error?.message).toContain("an API key has no upstream account");
    const viaKey = await admin("POST", "/v1/instances/upstream:connect", {});
    expect(viaKey.status).toBe(403);

    // Each connects their own upstream account through the gateway's flow.
    // Alice starts over REST first, then again with the SDK (which replaces the first flow);
    // Bob with the CLI.
    const superseded = await startOverRest(alice);
    const aliceFlow = await connectUpstream(await startWithSdk(alice), "alice-upstream");
    const bobFlow = await connectUpstream(await startWithCli(bob), "bob-upstream");
    // The REST flow Alice started first was replaced: its state is no longer known.
    const stale = await fetch(
      `${gateway.url}/delegation/callback?${new URLSearchParams({ code: "x", state: new URL(superseded.url).searchParams.get("state") ?? "" })}`,
    );
    expect(stale.status).toBe(400);
    await stale.body?.cancel();
    // The state is single-use: the same redirect again stores nothing.
    const replay = await fetch(
      `${gateway.url}/delegation/callback?${new URLSearchParams({ code: aliceFlow.code, state: aliceFlow.state })}`,
    );
    expect(replay.status).toBe(400);
    await replay.body?.cancel();

    const status = await bearerCall(gateway.url, alice, "GET", "/v1/instances/upstream/connection");
    expect(status.status, status.text).toBe(200);
    expect(status.body).toMatchObject({ connected: true, issuer: issuer.issuer, scopes: ["mcp"] });

    const aliceClient = (await mcpClient(alice)).client!;
    const bobClient = (await mcpClient(bob)).client!;
    expect(await whoami(aliceClient, "alice")).toBe("alice-upstream");
    expect(await whoami(bobClient, "bob")).toBe("bob-upstream");

    // Refresh: calls go on until the upstream has seen a second token of each user (the first
    // expires within the gateway's refresh margin about 5 s after it was issued).
    const tokensOf = (subject: string) =>
      new Set(upstream.seen.filter((s) => s.subject === subject).map((s) => s.authorization));
    let rounds = 0;
    await waitFor(
      "two distinct upstream tokens of each user (a refresh each)",
      async () => {
        rounds++;
        expect(await whoami(aliceClient, "alice")).toBe("alice-upstream");
        expect(await whoami(bobClient, "bob")).toBe("bob-upstream");
        return tokensOf("alice-upstream").size >= 2 && tokensOf("bob-upstream").size >= 2
          ? true
          : undefined;
      },
      90_000,
      1_000,
    );

    // What the upstream recorded: every call carried the caller's own upstream token.
    const calls = upstream.seen.filter((s) => s.caller !== undefined);
    expect(calls.length).toBeGreaterThanOrEqual(2 * (rounds + 1));
    for (const seen of calls) {
      expect(seen.subject, `a call of ${seen.caller} with the wrong account`).toBe(
        `${seen.caller}-upstream`,
      );
    }
    const aliceTokens = tokensOf("alice-upstream");
    for (const token of tokensOf("bob-upstream")) expect(aliceTokens.has(token)).toBe(false);
    // Nothing the upstream saw was a Berth credential, and every authorized request verified.
    for (const seen of upstream.seen) {
      for (const berth of [alice, bob, mesh.apiKey])
        expect(seen.authorization).not.toContain(berth);
    }
    const refused = upstream.seen.filter((s) => s.subject === undefined);
    expect(
      refused.every((s) => s.authorization === ""),
      "only the health probe (no token) was ever refused",
    ).toBe(true);

    // The audit trail names each person behind their calls.
    const records = await waitFor(
      "tools/call records of whoami naming alice and bob, one per call made",
      async () => {
        const listed = await admin(
          "GET",
          "/v1/auditRecords?kind=AUDIT_RECORD_KIND_MCP_CALL&tool=whoami&pageSize=500",
        );
        const all = (listed.body.auditRecords ?? []) as Json[];
        const of = (user: string) => all.filter((r) => r.actorUser === user);
        return of("alice").length >= rounds + 1 && of("bob").length >= rounds + 1 ? all : undefined;
      },
      30_000,
    );
    const base = gateway.url.replace("0.0.0.0", "127.0.0.1");
    for (const record of records) expect(record.actorIssuer).toBe(`${base}/oauth`);

    // No upstream token in any response, audit record, stored row or log line.
    const upstreamTokens = [...aliceTokens, ...tokensOf("bob-upstream")].map((a) =>
      a.replace(/^Bearer /, ""),
    );
    const grants = await db.query(
      `select encode(ciphertext, 'escape') as sealed from instances.user_grants where instance_id = $1`,
      [instanceId],
    );
    expect(grants.rows.length, "two user grants and the registered client").toBe(3);
    const exposed = [
      superseded.text,
      aliceFlow.started.text,
      aliceFlow.page,
      bobFlow.started.text,
      bobFlow.page,
      status.text,
      JSON.stringify(records),
      ...grants.rows.map((r) => r.sealed as string),
      ...logLines,
    ].join("\n");
    for (const token of upstreamTokens) expect(exposed).not.toContain(token);
    expect(logLines.some((l) => l.includes("delegated token refreshed"))).toBe(true);

    // Disconnecting forgets Alice's grant: her next session is refused again, Bob's goes on.
    const gone = await bearerCall(
      gateway.url,
      alice,
      "POST",
      "/v1/instances/upstream:disconnect",
      {},
    );
    expect(gone.body).toMatchObject({ deleted: true });
    expect((await mcpClient(alice)).error?.message).toContain("berth instances connect upstream");
    expect(await whoami(bobClient, "bob")).toBe("bob-upstream");

    // Removing Bob deletes his grant; deleting the instance deletes the rest.
    const bobActor = actorIdOf(
      `${base}/oauth`,
      (await admin("GET", "/v1/users/bob")).body.id as string,
    );
    expect((await admin("DELETE", "/v1/users/bob")).status).toBe(200);
    await waitFor(
      "bob's grant deleted",
      async () =>
        (await db.query(`select 1 from instances.user_grants where "user" = $1`, [bobActor]))
          .rowCount === 0
          ? true
          : undefined,
      10_000,
    );
    expect((await admin("DELETE", `/v1/instances/${instanceId}`)).status).toBe(200);
    await waitFor(
      "the instance's grants deleted with it",
      async () =>
        (await db.query(`select 1 from instances.user_grants where instance_id = $1`, [instanceId]))
          .rowCount === 0
          ? true
          : undefined,
      60_000,
    );
  }, 300_000);

  it("a virtual server calls a delegated member with each caller's own upstream token; a caller not connected is told how to connect while other members keep working", async () => {
    await createUsers("carol", "dave");
    everything = await startEverythingServer();
    const delegatedId = await createUrlInstance("vs-upstream", {
      type: "url",
      endpoint: upstream.url,
      delegation: { type: "oauth" },
    });
    await createUrlInstance("vs-plain", { type: "url", endpoint: everything.url });
    const vs = await admin("POST", "/v1/virtualServers", {
      name: "delegated-vs",
      members: [
        { instance: "vs-upstream", prefix: "up" },
        { instance: "vs-plain", prefix: "ev" },
      ],
    });
    expect(vs.status, vs.text).toBe(200);

    const carol = await berthToken("carol");
    const dave = await berthToken("dave");
    await connectUpstream(
      await startOverRest(carol, "vs-upstream"),
      "carol-upstream",
      "vs-upstream",
    );

    const carolVs = (await mcpClient(carol, "/mcp/v/delegated-vs")).client!;
    const daveVs = (await mcpClient(dave, "/mcp/v/delegated-vs")).client!;
    expect(carolVs, "carol's virtual session").toBeDefined();
    expect(
      daveVs,
      "dave's virtual session (the unconnected member does not stop it)",
    ).toBeDefined();
    const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);
    const carolTools = await names(carolVs);
    const whoamiTool = carolTools.find((n) => n.startsWith("up") && n.endsWith("whoami"));
    const echoTool = carolTools.find((n) => n.startsWith("ev") && n.endsWith("echo"));
    expect(whoamiTool, carolTools.join(", ")).toBeDefined();
    expect(echoTool, carolTools.join(", ")).toBeDefined();
    // Dave has no upstream account connected: the delegated member lists nothing for him.
    const daveTools = await names(daveVs);
    expect(daveTools).toContain(echoTool);
    expect(daveTools).not.toContain(whoamiTool);

    expect(
      textOf(await carolVs.callTool({ name: whoamiTool!, arguments: { caller: "carol" } })),
    ).toBe("carol-upstream");
    // Dave calling the delegated member's tool: the same answer as on /mcp/vs-upstream.
    const refused = await daveVs
      .callTool({ name: whoamiTool!, arguments: { caller: "dave" } })
      .then(
        () => undefined,
        (error: Error) => error,
      );
    expect(refused?.message).toContain("berth instances connect vs-upstream");
    expect(refused?.message).toContain(`/v1/instances/${delegatedId}:connect`);
    const direct = await mcpClient(dave, "/mcp/vs-upstream");
    expect(direct.error?.message).toContain("you have not connected yet");
    expect(refused?.message).toContain("you have not connected yet");
    // The other member keeps working for him.
    expect(
      textOf(await daveVs.callTool({ name: echoTool!, arguments: { message: "still here" } })),
    ).toContain("still here");

    // Once Dave connects, the same session reaches the upstream as him.
    await connectUpstream(await startOverRest(dave, "vs-upstream"), "dave-upstream", "vs-upstream");
    expect(
      textOf(await daveVs.callTool({ name: whoamiTool!, arguments: { caller: "dave" } })),
    ).toBe("dave-upstream");
    expect(
      textOf(await carolVs.callTool({ name: whoamiTool!, arguments: { caller: "carol" } })),
    ).toBe("carol-upstream");
    // What the upstream recorded: each call with the caller's own token.
    const viaVs = upstream.seen.filter((s) => s.caller === "carol" || s.caller === "dave");
    expect(viaVs.length).toBeGreaterThanOrEqual(3);
    for (const seen of viaVs) expect(seen.subject).toBe(`${seen.caller}-upstream`);
    for (const seen of upstream.seen)
      for (const berth of [carol, dave]) expect(seen.authorization).not.toContain(berth);
  }, 300_000);

  it("a token revoked upstream never passes the upstream's challenge on: the grant is dropped, the caller told to connect again, and reconnecting works (direct and through a virtual server)", async () => {
    await createUsers("erin");
    // Its own upstream, whose tokens live an hour: the refused token is not due for a refresh,
    // so the 401 (not the refresh timer) is what finds the revocation.
    const longLived = await startProtectedUpstream(issuer.issuer);
    stops.push(() => longLived.stop());
    issuer.ttlByResource.set(longLived.url, 3600);
    const id = await createUrlInstance("revoked-upstream", {
      type: "url",
      endpoint: longLived.url,
      delegation: { type: "oauth" },
    });
    const vs = await admin("POST", "/v1/virtualServers", {
      name: "revoked-vs",
      members: [{ instance: "revoked-upstream", prefix: "up" }],
    });
    expect(vs.status, vs.text).toBe(200);
    const erin = await berthToken("erin");
    await connectUpstream(
      await startOverRest(erin, "revoked-upstream"),
      "erin-upstream",
      "revoked-upstream",
      longLived.url,
    );
    const direct = (await mcpClient(erin, "/mcp/revoked-upstream")).client!;
    expect(await whoami(direct, "erin")).toBe("erin-upstream");
    const viaVs = (await mcpClient(erin, "/mcp/v/revoked-vs")).client!;
    const whoamiTool = (await viaVs.listTools()).tools.find((t) => t.name.endsWith("whoami"))!.name;
    expect(textOf(await viaVs.callTool({ name: whoamiTool, arguments: { caller: "erin" } }))).toBe(
      "erin-upstream",
    );

    // Revoked upstream: the account is gone at the upstream's authorization server (a refresh is
    // refused) and the upstream refuses every token of it it has seen.
    issuer.users.delete("erin-upstream");
    longLived.revoke("erin-upstream");
    const refusedBefore = longLived.seen.filter(
      (s) => s.subject === undefined && s.authorization !== "",
    ).length;
    const raw = await initializeWith(`${gateway.url}/mcp/revoked-upstream`, erin, {
      readBody: true,
    });
    const answer = raw.text;
    expect(raw.status, answer).toBe(403);
    expect(raw.challenge, "the upstream's challenge").toBe("");
    expect(answer).toContain("berth instances connect revoked-upstream");
    expect(answer).toContain(`/v1/instances/${id}:connect`);
    expect(answer).not.toContain(issuer.issuer);
    expect(
      longLived.seen.filter((s) => s.subject === undefined && s.authorization !== "").length,
      "the upstream refused the revoked token (once: the refresh was refused, nothing retried)",
    ).toBe(refusedBefore + 1);
    const status = await bearerCall(
      gateway.url,
      erin,
      "GET",
      "/v1/instances/revoked-upstream/connection",
    );
    expect(status.status, status.text).toBe(200);
    // proto3 JSON leaves false out: no `connected: true`.
    expect(status.body.connected ?? false, "the grant was dropped").toBe(false);
    // The open sessions get the same answer.
    const again = await direct.callTool({ name: "whoami", arguments: { caller: "erin" } }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(again?.message).toContain("berth instances connect revoked-upstream");
    const vsAgain = await viaVs.callTool({ name: whoamiTool, arguments: { caller: "erin" } }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(vsAgain?.message).toContain("berth instances connect revoked-upstream");

    // Connecting again works, on both paths.
    issuer.users.set("erin-upstream", PASSWORD);
    await connectUpstream(
      await startOverRest(erin, "revoked-upstream"),
      "erin-upstream",
      "revoked-upstream",
      longLived.url,
    );
    const renewed = (await mcpClient(erin, "/mcp/revoked-upstream")).client!;
    expect(await whoami(renewed, "erin")).toBe("erin-upstream");
    expect(textOf(await viaVs.callTool({ name: whoamiTool, arguments: { caller: "erin" } }))).toBe(
      "erin-upstream",
    );
  }, 300_000);

  it("a confidential upstream client: its secret is sealed, shown only as a reference, and sent to the token endpoint for the code and each refresh", async () => {
    await createUsers("frank");
    // A confidential client at the upstream's authorization server (client_secret_basic): the
    // server refuses its token requests without the right secret.
    const callback = `${gateway.url}/delegation/callback`;
    const discovery = (await (
      await fetch(`${issuer.issuer}/.well-known/openid-configuration`)
    ).json()) as { registration_endpoint: string };
    const registered = (await (
      await fetch(discovery.registration_endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          redirect_uris: [callback],
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          token_endpoint_auth_method: "client_secret_basic",
        }),
      })
    ).json()) as { client_id: string; client_secret: string };
    expect(registered.client_secret, "a confidential client").toBeTruthy();
    const secret = registered.client_secret;
    const wrong = `not-${secret}`;

    // A secret without its client: refused, naming the field.
    const bad = await admin("POST", "/v1/instances", {
      instance: {
        name: "confidential-upstream",
        jsonSpec: {
          type: "url",
          endpoint: upstream.url,
          delegation: { type: "oauth", client_secret: "x" },
        },
      },
    });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.text).toContain("json_spec.delegation.client_id");

    // Created with the CLI, the secret read from standard input (first a wrong one).
    const spec = {
      type: "url",
      endpoint: upstream.url,
      delegation: { type: "oauth", client_id: registered.client_id },
    };
    const created = await runBerth(
      [
        "instances",
        "create",
        "confidential-upstream",
        "--spec",
        JSON.stringify(spec),
        "--secret",
        "DELEGATION_CLIENT_SECRET",
        "--output",
        "json",
      ],
      { url: gateway.url, apiKey: mesh.apiKey, input: `${wrong}\n` },
    );
    expect(created.code, created.stderr).toBe(0);
    const shown = await admin("GET", "/v1/instances/confidential-upstream");
    const id = shown.body.id as string;
    expect(
      (shown.body.jsonSpec as { delegation: Json }).delegation,
      "json_spec holds the reference, never the value",
    ).toEqual({
      type: "oauth",
      client_id: registered.client_id,
      client_secret: `secret_ref:${id}:DELEGATION_CLIENT_SECRET`,
    });
    await waitFor(
      "the confidential instance RUNNING",
      async () =>
        (await admin("GET", `/v1/instances/${id}`)).body.status === "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      60_000,
    );
    const frank = await berthToken("frank");

    // The wrong secret: the authorization server refuses the code, nothing is stored.
    const first = new URL((await startOverRest(frank, "confidential-upstream")).url);
    expect(first.searchParams.get("client_id")).toBe(registered.client_id);
    const signedIn = await signIn(
      first,
      { username: "frank-upstream", password: PASSWORD },
      { url: callback, deliver: false },
    );
    if (signedIn.kind !== "code") throw new Error(`upstream sign-in: ${JSON.stringify(signedIn)}`);
    const refused = await fetch(
      `${callback}?${new URLSearchParams({ code: signedIn.code, state: signedIn.state ?? "" })}`,
    );
    const refusedPage = await refused.text();
    expect(refused.status, refusedPage).toBe(502);
    const none = await bearerCall(
      gateway.url,
      frank,
      "GET",
      "/v1/instances/confidential-upstream/connection",
    );
    expect(none.body.connected ?? false).toBe(false);

    // The right secret, set over REST: the code is redeemed, calls go through, and refresh works.
    const set = await admin("POST", `/v1/instances/${id}:setSecret`, {
      name: "DELEGATION_CLIENT_SECRET",
      value: secret,
    });
    expect(set.status, set.text).toBe(200);
    const flow = await connectUpstream(
      await startOverRest(frank, "confidential-upstream"),
      "frank-upstream",
      "confidential-upstream",
    );
    const client = (await mcpClient(frank, "/mcp/confidential-upstream")).client!;
    expect(await whoami(client, "frank")).toBe("frank-upstream");
    const tokensOf = () =>
      new Set(
        upstream.seen.filter((s) => s.subject === "frank-upstream").map((s) => s.authorization),
      );
    await waitFor(
      "a refreshed token of frank (the refresh authenticated with the client secret)",
      async () => {
        expect(await whoami(client, "frank")).toBe("frank-upstream");
        return tokensOf().size >= 2 ? true : undefined;
      },
      90_000,
      1_000,
    );

    // The secret appears in no response, log line or stored spec.
    const stored = await db.query(
      `select json_spec::text as spec from instances.instances where id = $1`,
      [id],
    );
    const exposed = [
      created.stdout,
      created.stderr,
      shown.text,
      set.text,
      bad.text,
      refusedPage,
      flow.page,
      flow.started.text,
      JSON.stringify(stored.rows),
      ...logLines,
    ].join("\n");
    expect(exposed).not.toContain(secret);
    expect(exposed).not.toContain(wrong);
  }, 300_000);

  it("a catalog entry's default delegation: an instance created from it without its own gets it in json_spec, and people connect as with their own", async () => {
    await createUsers("grace");
    // A bad default is refused, naming each field.
    const bad = await admin("POST", "/v1/servers", {
      name: "bad-delegated",
      remotes: [
        {
          transport: "TRANSPORT_STREAMABLE_HTTP",
          url: upstream.url,
          delegation: { type: "saml", client_id: "c", client_secret: "x" },
        },
      ],
    });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.text).toContain("server.remotes[0].delegation.type");
    expect(bad.text).toContain("server.remotes[0].delegation.client_secret");

    // The entry, created with the SDK; the CLI shows its default.
    const berth = createBerthClient({ baseUrl: gateway.url, apiKey: mesh.apiKey });
    const { server } = await berth.registry.createServer({
      server: {
        name: "delegated-tracker",
        remotes: [
          {
            transport: Transport.STREAMABLE_HTTP,
            url: upstream.url,
            delegation: { type: "oauth", scopes: ["mcp"] },
          },
        ],
      },
    });
    expect(server?.remotes[0]?.delegation).toEqual({ type: "oauth", scopes: ["mcp"] });
    const shownByCli = await runBerth(["servers", "get", "delegated-tracker"], {
      url: gateway.url,
      apiKey: mesh.apiKey,
    });
    expect(shownByCli.code, shownByCli.stderr).toBe(0);
    expect(shownByCli.stdout).toContain('{"type":"oauth","scopes":["mcp"]}');

    // An instance of it without a delegation of its own: json_spec shows the catalog's.
    const created = await admin("POST", "/v1/instances", {
      instance: { name: "catalog-delegated", serverId: server!.id },
    });
    expect(created.status, created.text).toBe(200);
    expect(created.body.jsonSpec).toMatchObject({
      type: "url",
      endpoint: upstream.url,
      delegation: { type: "oauth", scopes: ["mcp"] },
    });
    // One with a shared bearer token instead, and one with its own delegation, keep theirs.
    const shared = await admin("POST", "/v1/instances", {
      instance: {
        name: "catalog-shared",
        serverId: server!.id,
        jsonSpec: { authentication: { type: "bearer", token: "shared-upstream-token" } },
      },
    });
    expect(shared.status, shared.text).toBe(200);
    expect((shared.body.jsonSpec as Json).delegation).toBeUndefined();
    const own = await admin("POST", "/v1/instances", {
      instance: {
        name: "catalog-own",
        serverId: server!.id,
        jsonSpec: { delegation: { type: "oauth", scopes: ["openid", "mcp"] } },
      },
    });
    expect(own.status, own.text).toBe(200);
    expect((own.body.jsonSpec as Json).delegation).toEqual({
      type: "oauth",
      scopes: ["openid", "mcp"],
    });

    const id = created.body.id as string;
    await waitFor(
      "the catalog instance RUNNING",
      async () =>
        (await admin("GET", `/v1/instances/${id}`)).body.status === "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      60_000,
    );
    const grace = await berthToken("grace");
    const early = await mcpClient(grace, "/mcp/catalog-delegated");
    expect(early.error?.message).toContain("berth instances connect catalog-delegated");
    await connectUpstream(
      await startOverRest(grace, "catalog-delegated"),
      "grace-upstream",
      "catalog-delegated",
    );
    const client = (await mcpClient(grace, "/mcp/catalog-delegated")).client!;
    expect(await whoami(client, "grace")).toBe("grace-upstream");
  }, 300_000);

  it("two gateway replicas refreshing the same person's token at once make one upstream refresh", async () => {
    await createUsers("henry");
    await createUrlInstance("raced-upstream", {
      type: "url",
      endpoint: upstream.url,
      delegation: { type: "oauth" },
    });
    const henry = await berthToken("henry");
    await connectUpstream(
      await startOverRest(henry, "raced-upstream"),
      "henry-upstream",
      "raced-upstream",
    );
    // A second replica: same database, services and keys, behind the same public address.
    const base = gateway.url.replace("0.0.0.0", "127.0.0.1");
    const replica = await startGateway(
      loadConfig(gatewayEnv, {
        ...mesh.env,
        ...serviceMeshEnv("gateway", engines),
        HTTP_PORT: "0",
        BERTH_DELEGATION_REFRESH_SECONDS: "60",
        BERTH_PUBLIC_URL: base,
      }),
      createLogger({ service: "gateway-b", level: "warn" }),
    );
    stops.push(() => replica.stop());

    // Until the token is within the refresh margin (its 65 s life less the 60 s margin).
    await waitFor(
      "henry's upstream token due for a refresh",
      async () => {
        const status = await bearerCall(
          gateway.url,
          henry,
          "GET",
          "/v1/instances/raced-upstream/connection",
        );
        const expiry = Date.parse(String(status.body.expireTime));
        return expiry - 60_000 <= Date.now() ? true : undefined;
      },
      30_000,
      250,
    );
    const before = issuer.refreshes();
    const initialize = (at: string) =>
      initializeWith(`${at}/mcp/raced-upstream`, henry, { readBody: true });
    const answers = await Promise.all(
      [gateway.url, replica.url, gateway.url, replica.url, replica.url, gateway.url].map(
        initialize,
      ),
    );
    for (const answer of answers) expect(answer.status, answer.text).toBe(200);
    expect(
      issuer.refreshes() - before,
      "upstream refreshes for six concurrent calls on two replicas",
    ).toBe(1);
    // Both replicas go on with the one renewed grant.
    const viaA = (await mcpClient(henry, "/mcp/raced-upstream")).client!;
    expect(await whoami(viaA, "henry")).toBe("henry-upstream");
    const transport = new StreamableHTTPClientTransport(
      new URL(`${replica.url}/mcp/raced-upstream`),
      {
        requestInit: { headers: { authorization: `Bearer ${henry}` } },
      },
    );
    const viaB = new Client({ name: "delegation-test", version: "1.0.0" });
    await viaB.connect(transport, { timeout: 30_000 });
    clients.push(viaB);
    expect(await whoami(viaB, "henry")).toBe("henry-upstream");
    expect(issuer.refreshes() - before).toBe(1);
  }, 300_000);
});
