import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@berth/platform";
import { createBerthClient } from "@berth/sdk";
import { useEngines } from "@berth/testkit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../../../packages/cli/test/support/run-berth.js";
import { serviceMeshEnv, startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { newRunId, removeLeftovers, waitFor } from "../../runtime/test/support/runtime-harness.js";
import { type Gateway, gatewayEnv, startGateway } from "../src/index.js";
import {
  GATEWAY_EXCHANGE_CLIENT_ID,
  TOKEN_EXCHANGE_GRANT,
} from "../src/oauth/embedded/token-exchange-grant.js";
import { type ExternalIssuer, startExternalIssuer } from "./support/external-issuer.js";
import {
  bearerCall,
  createRunningInstance,
  memoryLogger,
  startFederatedGateway,
} from "./support/gateway-mesh.js";
import { initializeWith, signedInToken } from "./support/oauth-client.js";
import { type ProtectedUpstream, startProtectedUpstream } from "./support/protected-upstream.js";

type Json = Record<string, unknown>;
const PASSWORD = "correct horse battery staple";
const CALLS_PER_USER = 3;

// Token exchange (RFC 8693) end to end with real parts: two gateways on one mesh (real Postgres,
// NATS, the runtime's probe), one with the embedded authorization server, one trusting only an
// external OpenID provider (a second oidc-provider with the exchange grant) by discovery; people
// signed in with the MCP SDK's OAuth client; third-party MCP servers (the official SDK) that
// verify each JWT's issuer, audience (their own URL) and signature, and record who called.
describe("token exchange delegation", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let gateway: Gateway;
  let federated: Gateway;
  let external: ExternalIssuer;
  let upstream: ProtectedUpstream;
  let upstreamExt: ProtectedUpstream;
  let base: string;
  const exchangeClient = {
    clientId: "berth-federated",
    clientSecret: randomBytes(24).toString("base64url"),
  };
  const logLines: string[] = [];
  const configDirs: string[] = [];
  const clients: Client[] = [];

  const admin = (method: string, path: string, body?: unknown) =>
    bearerCall(gateway.url, mesh.apiKey, method, path, body);

  /** An MCP client (official SDK) on /mcp/{instance} of a gateway; the client, or the error. */
  const mcpClient = async (url: string, instance: string, token: string) => {
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp/${instance}`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: "token-exchange-test", version: "1.0.0" });
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
  const createExchangeInstance = (name: string, endpoint: string, delegation: Json) =>
    // The upstream answers the probe (no token) 401: up, asking each caller for a credential.
    createRunningInstance(admin, name, { type: "url", endpoint, delegation });
  /** The gateway's log records with this message (its log is JSON lines, kept in memory). */
  const logged = (msg: string) =>
    logLines.map((line) => JSON.parse(line) as Json).filter((record) => record.msg === msg);

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: { BERTH_RUNTIME_LABELS: `berth.test=${runId}`, RECONCILE_INTERVAL_MS: "2000" },
    });
    gateway = await startGateway(
      loadConfig(gatewayEnv, {
        ...mesh.env,
        ...serviceMeshEnv("gateway", engines),
        HTTP_PORT: "0",
      }),
      memoryLogger(logLines),
    );
    base = gateway.url.replace("0.0.0.0", "127.0.0.1");
    upstream = await startProtectedUpstream(`${base}/oauth`);
    // The company's identity provider, with the exchange grant for the federated gateway's client.
    external = await startExternalIssuer(() => federated.url, { tokenExchange: exchangeClient });
    federated = await startFederatedGateway(mesh, engines, {
      issuer: external.issuer,
      teams: { "berth-users": { default: "agent" } },
      tokenExchange: exchangeClient,
    });
    upstreamExt = await startProtectedUpstream(external.issuer);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.all(configDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    await federated?.stop();
    await gateway?.stop();
    await mesh?.stop();
    await upstream?.stop();
    await upstreamExt?.stop();
    await external?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("against the embedded authorization server: each user reaches the upstream with a token minted for it (their sub, its audience, act = the gateway), exchanged once and cached; never a Berth token; an API key is refused", async () => {
    const users: Record<string, string> = {};
    for (const username of ["alice", "bob"]) {
      const created = await admin("POST", "/v1/users", { username, password: PASSWORD });
      expect(created.status, created.text).toBe(200);
      users[username] = created.body.id as string;
    }
    // The embedded server advertises the grant.
    const discovery = (await (
      await fetch(`${base}/.well-known/oauth-authorization-server/oauth`)
    ).json()) as Json;
    expect(discovery.grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT);

    // A resource on another server than the endpoint is refused, naming the field.
    const stray = await admin("POST", "/v1/instances", {
      instance: {
        name: "stray",
        jsonSpec: {
          type: "url",
          endpoint: upstream.url,
          delegation: { type: "token_exchange", resource: "https://payroll.example.com/api" },
        },
      },
    });
    expect(stray.status, stray.text).toBe(400);
    expect(stray.text).toContain("instance.json_spec.delegation.resource");
    expect((await admin("GET", "/v1/instances/stray")).status).toBe(404);

    const instanceId = await createExchangeInstance("exchanged", upstream.url, {
      type: "token_exchange",
      // Narrowed to what the user's token holds: "mcp" (never "admin").
      scopes: ["mcp", "admin"],
    });
    const tokens = {
      alice: await signedInToken(base, { username: "alice", password: PASSWORD }),
      bob: await signedInToken(base, { username: "bob", password: PASSWORD }),
    };

    for (const [name, token] of Object.entries(tokens)) {
      const { client, error } = await mcpClient(gateway.url, "exchanged", token);
      expect(error, `${name} connects`).toBeUndefined();
      for (let i = 0; i < CALLS_PER_USER; i++)
        expect(await whoami(client!, name)).toBe(users[name]);
    }
    // An API key has no user token to exchange: a clear refusal, nothing sent upstream for it.
    const keyed = await mcpClient(gateway.url, "exchanged", mesh.apiKey);
    expect(keyed.error?.message).toContain("an API key has no user token to exchange");

    // What the upstream saw: each call with a token of the caller, minted for the upstream.
    const calls = upstream.seen.filter((s) => s.caller !== undefined);
    expect(calls).toHaveLength(2 * CALLS_PER_USER);
    for (const seen of calls) {
      expect(seen.subject, `${seen.caller}'s call`).toBe(users[seen.caller!]);
      expect(seen.audience).toBe(upstream.url);
      expect(seen.act).toEqual({ sub: GATEWAY_EXCHANGE_CLIENT_ID });
      const claims = JSON.parse(
        Buffer.from(seen.authorization.split(".")[1]!, "base64url").toString(),
      ) as Json;
      expect(claims.scope).toBe("mcp");
    }
    // Never a Berth credential upstream; the only refused request is the probe's (no token).
    for (const seen of upstream.seen)
      for (const berth of [tokens.alice, tokens.bob, mesh.apiKey])
        expect(seen.authorization).not.toContain(berth);
    expect(
      upstream.seen.filter((s) => s.subject === undefined).map((s) => s.authorization),
    ).toEqual(upstream.seen.filter((s) => s.subject === undefined).map(() => ""));
    // One exchange per user over all their calls (cached): one token each, one log record each.
    const tokensOf = (id: string) =>
      new Set(upstream.seen.filter((s) => s.subject === id).map((s) => s.authorization));
    expect(tokensOf(users.alice!).size).toBe(1);
    expect(tokensOf(users.bob!).size).toBe(1);
    const exchanges = logged("token exchanged for the upstream").filter(
      (r) => r.instance_id === instanceId,
    );
    expect(exchanges, "one exchange per user").toHaveLength(2);
    expect(new Set(exchanges.map((r) => r.user)).size).toBe(2);

    // A client registered by anyone may not exchange, even with the grant type registered.
    const registered = await fetch(`${base}/oauth/reg`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_name: "stranger",
        grant_types: [TOKEN_EXCHANGE_GRANT],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      }),
    });
    const stranger = (await registered.json()) as Json;
    // Open registration lets a stranger register the grant type; the grant still refuses it.
    expect(registered.status, JSON.stringify(stranger)).toBe(201);
    const basic = Buffer.from(`${stranger.client_id}:${stranger.client_secret}`).toString("base64");
    const refused = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${basic}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: tokens.alice,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: "https://elsewhere.example.com/mcp",
      }).toString(),
    });
    const answer = (await refused.json()) as Json;
    expect(refused.status, JSON.stringify(answer)).toBe(400);
    expect(answer.error).toBe("unauthorized_client");
    expect(answer.access_token).toBeUndefined();

    // The connection answers sensibly: nothing to connect, tokens are exchanged per call.
    const rest = await bearerCall(
      gateway.url,
      tokens.alice,
      "GET",
      "/v1/instances/exchanged/connection",
    );
    expect(rest.status, rest.text).toBe(200);
    expect(rest.body).toMatchObject({
      connected: true,
      issuer: `${base}/oauth`,
      scopes: ["mcp"],
      delegationType: "token_exchange",
    });
    const sdk = createBerthClient({ baseUrl: gateway.url, accessToken: tokens.bob });
    const viaSdk = await sdk.delegation.getInstanceConnection({ instance: "exchanged" });
    expect(viaSdk.delegationType).toBe("token_exchange");
    const connect = await bearerCall(
      gateway.url,
      tokens.alice,
      "POST",
      "/v1/instances/exchanged:connect",
      {},
    );
    expect(connect.status, connect.text).toBe(400);
    expect(connect.text).toContain("no connection is needed");
    const dir = await mkdtemp(join(tmpdir(), "berth-exchange-"));
    configDirs.push(dir);
    await writeFile(
      join(dir, "credentials.json"),
      JSON.stringify({
        [gateway.url]: {
          tokens: { access_token: tokens.alice, token_type: "Bearer" },
          expiresAt: Date.now() + 600_000,
        },
      }),
      { mode: 0o600 },
    );
    const cli = await runBerth(["instances", "connection", "exchanged"], {
      url: gateway.url,
      env: { BERTH_CONFIG_DIR: dir },
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain("no connection needed; tokens are exchanged per call");

    // The audit trail names each person behind their calls.
    await waitFor(
      `${CALLS_PER_USER} whoami records each of alice and bob`,
      async () => {
        const listed = await admin(
          "GET",
          "/v1/auditRecords?kind=AUDIT_RECORD_KIND_MCP_CALL&tool=whoami&pageSize=500",
        );
        const all = ((listed.body.auditRecords ?? []) as Json[]).filter(
          (r) => r.actorIssuer === `${base}/oauth`,
        );
        const of = (user: string) => all.filter((r) => r.actorUser === user).length;
        return of("alice") >= CALLS_PER_USER && of("bob") >= CALLS_PER_USER ? true : undefined;
      },
      30_000,
    );
    // No exchanged token in any log line.
    const exchanged = calls.map((s) => s.authorization.replace(/^Bearer /, ""));
    for (const token of exchanged) expect(logLines.join("\n")).not.toContain(token);
    for (const token of Object.values(tokens)) expect(logLines.join("\n")).not.toContain(token);
  }, 300_000);

  it("against an external issuer found by discovery: exchanged there once per user; a token of another issuer never goes to it; an unreachable issuer is 503 with Retry-After", async () => {
    for (const user of ["carol", "dave", "erin"]) external.users.set(user, PASSWORD);
    await createExchangeInstance("exchanged-ext", upstreamExt.url, {
      type: "token_exchange",
      issuer: external.issuer,
    });
    const tokens = {
      carol: await signedInToken(federated.url, { username: "carol", password: PASSWORD }),
      dave: await signedInToken(federated.url, { username: "dave", password: PASSWORD }),
    };
    const erin = await signedInToken(federated.url, { username: "erin", password: PASSWORD });
    const before = external.exchanges;
    for (const [name, token] of Object.entries(tokens)) {
      const { client, error } = await mcpClient(federated.url, "exchanged-ext", token);
      expect(error, `${name} connects`).toBeUndefined();
      for (let i = 0; i < CALLS_PER_USER; i++) expect(await whoami(client!, name)).toBe(name);
    }
    expect(external.exchanges - before, "one exchange per user").toBe(2);
    const calls = upstreamExt.seen.filter((s) => s.caller !== undefined);
    expect(calls).toHaveLength(2 * CALLS_PER_USER);
    for (const seen of calls) {
      expect(seen.subject).toBe(seen.caller);
      expect(seen.audience).toBe(upstreamExt.url);
      expect(seen.act).toEqual({ sub: exchangeClient.clientId });
      for (const berth of Object.values(tokens)) expect(seen.authorization).not.toContain(berth);
    }

    // A person signed in at the embedded issuer calling this instance: their token is not sent
    // to the external issuer (the instance exchanges only that issuer's tokens).
    await admin("POST", "/v1/users", { username: "frank", password: PASSWORD });
    const frank = await signedInToken(base, { username: "frank", password: PASSWORD });
    const mismatch = await mcpClient(gateway.url, "exchanged-ext", frank);
    expect(mismatch.error?.message).toContain(`exchanges tokens of the issuer ${external.issuer}`);
    expect(external.exchanges - before).toBe(2);

    // The issuer goes away: a caller whose token was not exchanged yet gets 503 with Retry-After.
    await external.stop();
    const refused = await initializeWith(`${federated.url}/mcp/exchanged-ext`, erin, {
      readBody: true,
    });
    expect(refused.status, refused.text).toBe(503);
    expect(refused.retryAfter).toBe("5");
    expect(refused.text).toContain("cannot be reached now");
    expect(refused.text).not.toContain(erin);
  }, 300_000);
});
