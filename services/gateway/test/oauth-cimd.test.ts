import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as https from "node:https";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, loadConfig, parseKeyRing } from "@berth/platform";
import { createMeshAuthority } from "@berth/platform/mesh-pki";
import { useEngines } from "@berth/testkit";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceMeshEnv, startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { newRunId, removeLeftovers } from "../../runtime/test/support/runtime-harness.js";
import { type Gateway, gatewayEnv, startGateway } from "../src/index.js";
import { openStoredIssuerKey, type StoredSealed } from "../src/oauth/embedded/issuer-keys.js";
import { createRunningInstance } from "./support/gateway-mesh.js";
import { startEverythingServer } from "./support/mcp-upstream.js";
import {
  connectWithProvider,
  MemoryOAuthProvider,
  REDIRECT_URL,
  signIn,
} from "./support/oauth-client.js";

type Json = Record<string, unknown>;
const PASSWORD = "correct horse battery staple";

/** A client that names itself by the URL of its metadata document (SEP-991 in the MCP SDK). */
class MetadataUrlProvider extends MemoryOAuthProvider {
  constructor(
    readonly clientMetadataUrl: string,
    private readonly redirect = REDIRECT_URL,
  ) {
    super();
  }
  override get redirectUrl() {
    return this.redirect;
  }
  override get clientMetadata() {
    return { ...super.clientMetadata, redirect_uris: [this.redirect] };
  }
}

/** A free loopback port (the gateway restarts on the same one: its issuer URL stays the same). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

// Client ID Metadata Documents (MCP authorization specification 2025-11-25) with real parts: the
// official MCP SDK client names itself by an https URL, the gateway's embedded authorization
// server fetches the document from a TLS server on loopback (trusted through the documented
// test-only setting), real Postgres, NATS and runtime; and the issuer's keys sealed at rest.
describe("OAuth client ID metadata documents and sealed issuer keys", () => {
  const runId = newRunId();
  const ring = `k1:${randomBytes(32).toString("base64")}`;
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  let everything: Awaited<ReturnType<typeof startEverythingServer>>;
  let db: pg.Client;
  let dir: string;
  let docs: https.Server;
  let docsUrl: string;
  const documents = new Map<string, Json>();
  const fetched: string[] = [];
  let gateway: Gateway | undefined;
  let gatewayEnvVars: Record<string, string>;
  const logs: string[] = [];
  const clients: Client[] = [];
  let signedInProvider: MetadataUrlProvider | undefined;

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  const startOurGateway = (extra: Record<string, string> = {}) =>
    startGateway(
      loadConfig(gatewayEnv, { ...gatewayEnvVars, ...extra }),
      createLogger({
        service: "gateway",
        level: "debug",
        destination: new Writable({
          write(chunk, _encoding, done) {
            logs.push(String(chunk));
            done();
          },
        }),
      }),
    );

  const connect = (url: string, provider: MemoryOAuthProvider) =>
    connectWithProvider(url, provider, clients, "cimd-test");

  const echo = async (client: Client) => {
    const result = (await client.callTool({ name: "echo", arguments: { message: "hi" } })) as {
      content: Array<{ text?: string }>;
    };
    return result.content[0]?.text ?? "";
  };

  const storedKeys = async () => {
    const rows = await db.query<{ name: string; value: string }>(
      `select "name", "value"::text as "value" from gateway.oauth_keys order by "name"`,
    );
    return Object.fromEntries(rows.rows.map((row) => [row.name, row.value]));
  };

  /** The private scalar of the stored signing key, opened with the ring (what must never leak). */
  const privateScalar = async () => {
    const stored = JSON.parse((await storedKeys()).signing!) as StoredSealed;
    const keyRing = parseKeyRing(ring);
    if (typeof keyRing === "string") throw new Error(keyRing);
    return openStoredIssuerKey(keyRing, "signing", stored) as { d: string; kid: string };
  };

  beforeAll(async () => {
    engines = await useEngines();
    everything = await startEverythingServer();
    dir = await mkdtemp(join(tmpdir(), "berth-cimd-"));

    // The client's web server: https on loopback, its certificate from a CA made here.
    const authority = createMeshAuthority();
    const identity = authority.identity("cimd-client");
    const caFile = join(dir, "test-ca.pem");
    await writeFile(caFile, authority.ca.cert);
    docs = https.createServer({ cert: identity.cert, key: identity.key }, (req, res) => {
      fetched.push(req.url ?? "");
      const document = documents.get(req.url ?? "");
      res.setHeader("content-type", "application/json");
      res.statusCode = document ? 200 : 404;
      res.end(JSON.stringify(document ?? { error: "not found" }));
    });
    await new Promise<void>((resolve) => docs.listen(0, "127.0.0.1", resolve));
    docsUrl = `https://127.0.0.1:${(docs.address() as AddressInfo).port}`;

    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: {
        BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
        RECONCILE_INTERVAL_MS: "2000",
        BERTH_OAUTH_KEY_ENCRYPTION_KEYS: ring,
      },
    });
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    const port = await freePort();
    gatewayEnvVars = {
      ...mesh.env,
      ...serviceMeshEnv("gateway", engines),
      HTTP_PORT: String(port),
      BERTH_OAUTH_CIMD_TEST_CA_FILE: caFile,
    };
    gateway = await startOurGateway();

    await createRunningInstance(admin, "everything", { type: "url", endpoint: everything.url });
    const user = await admin("POST", "/v1/users", {
      username: "carol",
      password: PASSWORD,
      scopes: ["API_KEY_SCOPE_MCP"],
    });
    expect(user.status, JSON.stringify(user.body)).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await db?.end();
    await gateway?.stop();
    await mesh?.stop();
    await everything?.stop();
    docs?.closeAllConnections();
    await new Promise((resolve) => docs?.close(resolve));
    await removeLeftovers(runId);
    await engines?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("signs in an MCP SDK client whose client_id is the https URL of its metadata document: 401, discovery, PKCE, token, tool call", async () => {
    const base = gateway!.url;
    const metadata = (await (
      await fetch(`${base}/.well-known/oauth-authorization-server/oauth`)
    ).json()) as Json;
    expect(metadata.client_id_metadata_document_supported).toBe(true);

    const clientId = `${docsUrl}/clients/good.json`;
    documents.set("/clients/good.json", {
      client_id: clientId,
      client_name: "Metadata Document Client",
      redirect_uris: [REDIRECT_URL],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    });
    const provider = new MetadataUrlProvider(clientId);
    const first = await connect(`${base}/mcp/everything`, provider);
    expect(first.error, "the first connect must ask for authorization").toBeDefined();
    expect(provider.authorizations).toHaveLength(1);
    const asked = provider.authorizations[0]!;
    // No registration: the client's id is its document's URL.
    expect(asked.searchParams.get("client_id")).toBe(clientId);
    expect(asked.searchParams.get("code_challenge_method")).toBe("S256");
    expect(asked.searchParams.get("resource")).toBe(`${base}/mcp/everything`);
    const registered = await db.query(
      `select count(*)::int as n from gateway.oauth_records where model = 'Client' and id = $1`,
      [clientId],
    );
    expect(registered.rows[0].n).toBe(0);

    const signedIn = await signIn(asked, { username: "carol", password: PASSWORD });
    if (signedIn.kind !== "code") throw new Error(`sign-in ended with ${JSON.stringify(signedIn)}`);
    // The page names the client as its document does.
    expect(signedIn.pageHtml).toContain("Metadata Document Client");
    expect(signedIn.pageHtml).toContain(`(from <strong>${new URL(docsUrl).host}</strong>)`);
    expect(fetched).toContain("/clients/good.json");
    await first.transport.finishAuth(signedIn.code);
    expect(provider.saved?.access_token, "an access token").toBeTruthy();
    const second = await connect(`${base}/mcp/everything`, provider);
    if (!second.client) throw second.error;
    expect(await echo(second.client)).toContain("hi");
    signedInProvider = provider;
  });

  it("refuses a metadata document whose client_id is not its URL, and a redirect_uri the document does not list", async () => {
    const base = gateway!.url;
    const attempt = async (provider: MetadataUrlProvider) => {
      const first = await connect(`${base}/mcp/everything`, provider);
      expect(first.error).toBeDefined();
      expect(provider.authorizations).toHaveLength(1);
      return signIn(
        provider.authorizations[0]!,
        { username: "carol", password: PASSWORD },
        {
          url: provider.redirectUrl,
          deliver: false,
        },
      );
    };

    const impostorId = `${docsUrl}/clients/impostor.json`;
    documents.set("/clients/impostor.json", {
      client_id: `${docsUrl}/clients/good.json`,
      client_name: "Impostor",
      redirect_uris: [REDIRECT_URL],
      token_endpoint_auth_method: "none",
    });
    const impostor = await attempt(new MetadataUrlProvider(impostorId));
    expect(impostor.kind, JSON.stringify(impostor)).toBe("refused");
    if (impostor.kind !== "refused") return;
    expect(impostor.status).toBe(400);
    expect(impostor.page).toContain("invalid_client_metadata");
    expect(impostor.page).toContain("client_id does not match");
    expect(fetched).toContain("/clients/impostor.json");

    const elsewhereId = `${docsUrl}/clients/elsewhere.json`;
    documents.set("/clients/elsewhere.json", {
      client_id: elsewhereId,
      client_name: "Elsewhere",
      redirect_uris: ["http://127.0.0.1:9/elsewhere"],
      token_endpoint_auth_method: "none",
    });
    const elsewhere = await attempt(new MetadataUrlProvider(elsewhereId));
    expect(elsewhere.kind, JSON.stringify(elsewhere)).toBe("refused");
    if (elsewhere.kind !== "refused") return;
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.page).toContain("invalid_redirect_uri");
    expect(elsewhere.page).toContain("redirect_uri did not match");

    // A client_id URL without a path (the bare origin) is not fetched at all.
    const bare = await fetch(
      `${base}/oauth/auth?${new URLSearchParams({
        client_id: docsUrl,
        response_type: "code",
        redirect_uri: REDIRECT_URL,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method: "S256",
        scope: "mcp",
      })}`,
      { redirect: "manual" },
    );
    expect(bare.status).toBe(400);
    expect(await bare.text()).toContain("fetch not allowed");
    expect(fetched).not.toContain("/");

    // Without the test-only setting (the mesh's own gateway), a loopback host is never fetched.
    const loopbackId = `${docsUrl}/clients/loopback.json`;
    documents.set("/clients/loopback.json", {
      client_id: loopbackId,
      redirect_uris: [REDIRECT_URL],
      token_endpoint_auth_method: "none",
    });
    const guarded = new MetadataUrlProvider(loopbackId);
    const first = await connect(`${mesh.gateway.url}/mcp/everything`, guarded);
    expect(first.error).toBeDefined();
    const refused = await signIn(guarded.authorizations[0]!, {
      username: "carol",
      password: PASSWORD,
    });
    expect(refused.kind, JSON.stringify(refused)).toBe("refused");
    expect(refused.kind === "refused" && refused.status).toBe(400);
    expect(refused.kind === "refused" && refused.page).toContain("invalid_client");
    expect(fetched).not.toContain("/clients/loopback.json");
  });

  it("keeps the signing key sealed at rest, out of the logs, and working across a restart; seals a plaintext key of an earlier version; names the setting when the ring is wrong", async () => {
    expect(signedInProvider, "the sign-in test ran first").toBeDefined();
    const keys = await storedKeys();
    for (const name of ["signing", "cookies"]) {
      expect(keys[name], `${name} row`).toContain('"sealed"');
      expect(keys[name], `${name} row holds no JWK field`).not.toMatch(/"(d|kty|crv)":/);
    }
    const { d } = await privateScalar();
    expect(keys.signing).not.toContain(d);

    // A restart opens the same key: the token issued before it still verifies.
    await gateway!.stop();
    gateway = await startOurGateway();
    const before = signedInProvider!.authorizations.length;
    const again = await connect(`${gateway.url}/mcp/everything`, signedInProvider!);
    if (!again.client) throw again.error;
    expect(await echo(again.client)).toContain("hi");
    expect(signedInProvider!.authorizations, "no new sign-in was needed").toHaveLength(before);

    // Nothing the gateway logged (at debug) holds the private key.
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join("\n")).not.toContain(d);

    // The wrong ring: the gateway does not start, and says which setting to fix (no key material).
    const wrong = `k9:${randomBytes(32).toString("base64")}`;
    await gateway.stop();
    gateway = undefined;
    const failed = await startOurGateway({ BERTH_OAUTH_KEY_ENCRYPTION_KEYS: wrong }).then(
      (started) => {
        gateway = started;
        return undefined;
      },
      (error: Error) => error,
    );
    expect(failed?.message).toMatch(/key id "k1", not configured.*BERTH_OAUTH_KEY_ENCRYPTION_KEYS/);
    expect(failed?.message).not.toContain(wrong.slice(3));

    // A row written in plaintext by an earlier version is sealed on the next start, and used.
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const legacy = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(legacy);
    await db.query(`update gateway.oauth_keys set "value" = $1::jsonb where "name" = 'signing'`, [
      JSON.stringify({ ...legacy, alg: "ES256", use: "sig", kid }),
    ]);
    gateway = await startOurGateway();
    const migrated = await storedKeys();
    expect(migrated.signing).toContain('"sealed"');
    expect(migrated.signing).not.toMatch(/"d":/);
    expect(migrated.signing).not.toContain(legacy.d!);
    const jwks = (await (await fetch(`${gateway.url}/oauth/jwks`)).json()) as {
      keys: Array<{ kid: string; d?: string }>;
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual([kid]);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    expect(logs.join("\n")).not.toContain(legacy.d!);
  });
});
