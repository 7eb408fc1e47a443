import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ACCESS_TOKEN_TYPE,
  gatewayExchangeClient,
  registerTokenExchangeGrant,
  TOKEN_EXCHANGE_GRANT,
} from "./token-exchange-grant.js";

// The grant on a real oidc-provider (the library the embedded server is built on), over HTTP.
// Subject tokens are signed here with the issuer's own key, as the issuer's token endpoint would.
describe("token exchange grant", () => {
  const gatewayBase = "https://berth.example.com";
  const gateway = gatewayExchangeClient(["cookie-key"]);
  const other = { clientId: "other", clientSecret: "other-secret-value-0123456789" };
  let server: http.Server;
  let issuer: string;
  let signingKey: JWK;
  let removed = new Set<string>();

  const subjectToken = async (claims: JWTPayload, options: { key?: JWK; iss?: string } = {}) => {
    const key = options.key ?? signingKey;
    return new SignJWT({ scope: "mcp", ...claims })
      .setProtectedHeader({ alg: "ES256", kid: key.kid!, typ: "at+jwt" })
      .setIssuer(options.iss ?? issuer)
      .setSubject((claims.sub as string | undefined) ?? "user-1")
      .setAudience((claims.aud as string | undefined) ?? `${gatewayBase}/mcp/reports`)
      .setIssuedAt()
      .setExpirationTime((claims.exp as number | undefined) ?? "10m")
      .sign(await (await import("jose")).importJWK(key, "ES256"));
  };

  const exchange = async (
    fields: Record<string, string>,
    client: { clientId: string; clientSecret: string } = gateway.client,
  ) => {
    const response = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token_type: ACCESS_TOKEN_TYPE,
        ...fields,
      }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    signingKey = { ...(await exportJWK(privateKey)), alg: "ES256", use: "sig", kid: "k1" };
    const { d: _d, ...publicKey } = signingKey;
    const provider = new Provider(issuer, {
      jwks: { keys: [signingKey as never] },
      // The one key is ES256, as the embedded server's.
      clientDefaults: { id_token_signed_response_alg: "ES256" },
      clients: [
        gateway.metadata,
        {
          client_id: other.clientId,
          client_secret: other.clientSecret,
          token_endpoint_auth_method: "client_secret_basic",
          grant_types: [TOKEN_EXCHANGE_GRANT],
          response_types: [],
          redirect_uris: [],
        },
      ],
    });
    registerTokenExchangeGrant(provider, {
      issuer,
      verifyKeys: createLocalJWKSet({ keys: [publicKey] }),
      signingKey,
      mayExchange: (clientId) => clientId === gateway.client.clientId,
      subjectAudienceAllowed: (audience) => audience.startsWith(gatewayBase),
      targetAllowed: (target) => URL.parse(target)?.origin !== gatewayBase,
      sameOriginTargets: true,
      checkSubject: async (claims) => {
        if (removed.has(claims.sub ?? "")) throw new Error("removed");
      },
      ttlSeconds: 300,
    });
    server.on("request", provider.callback());
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("is listed in the discovery document", async () => {
    const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT);
  });

  it("mints a token for the resource with the subject, narrowed scopes, act and no later expiry", async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    const subject = await subjectToken({
      sub: "alice",
      scope: "mcp read",
      exp,
      preferred_username: "alice",
    });
    const { status, body } = await exchange({
      subject_token: subject,
      resource: "https://upstream.example.com/mcp",
      audience: "https://upstream.example.com",
      scope: "read admin",
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: "Bearer",
      scope: "read",
    });
    const claims = decodeJwt(body.access_token as string);
    expect(claims).toMatchObject({
      iss: issuer,
      sub: "alice",
      aud: ["https://upstream.example.com/mcp", "https://upstream.example.com"],
      scope: "read",
      act: { sub: gateway.client.clientId },
      client_id: gateway.client.clientId,
      preferred_username: "alice",
    });
    expect(claims.exp).toBeLessThanOrEqual(exp);
    expect(body.expires_in).toBeLessThanOrEqual(120);
  });

  it("keeps the chain of actors of a token that was exchanged before", async () => {
    const subject = await subjectToken({ sub: "bob", act: { sub: "earlier-actor" } });
    const { body } = await exchange({
      subject_token: subject,
      resource: "https://upstream.example.com/mcp",
    });
    expect(decodeJwt(body.access_token as string).act).toEqual({
      sub: gateway.client.clientId,
      act: { sub: "earlier-actor" },
    });
  });

  it("refuses what it must, each with the OAuth error that says why", async () => {
    const good = await subjectToken({ sub: "carol" });
    const resource = "https://upstream.example.com/mcp";
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const foreignKey: JWK = { ...(await exportJWK(privateKey)), kid: "k1" };
    removed = new Set(["dave"]);
    type Answer = Promise<{ status: number; body: Record<string, unknown> }>;
    const cases: Array<[string, () => Answer, string]> = [
      [
        "another client",
        async () => exchange({ subject_token: good, resource }, other),
        "unauthorized_client",
      ],
      [
        "a wrong client secret",
        async () =>
          exchange({ subject_token: good, resource }, { ...gateway.client, clientSecret: "nope" }),
        "invalid_client",
      ],
      [
        "a token signed by another key",
        async () =>
          exchange({ subject_token: await subjectToken({}, { key: foreignKey }), resource }),
        "invalid_grant",
      ],
      [
        "a token of another issuer",
        async () =>
          exchange({
            subject_token: await subjectToken({}, { iss: "https://evil.example" }),
            resource,
          }),
        "invalid_grant",
      ],
      [
        "a token for another resource server",
        async () =>
          exchange({
            subject_token: await subjectToken({ aud: "https://elsewhere.example/api" }),
            resource,
          }),
        "invalid_grant",
      ],
      [
        "an expired token",
        async () =>
          exchange({
            subject_token: await subjectToken({ exp: Math.floor(Date.now() / 1000) - 120 }),
            resource,
          }),
        "invalid_grant",
      ],
      [
        "a removed user's token",
        async () => exchange({ subject_token: await subjectToken({ sub: "dave" }), resource }),
        "invalid_grant",
      ],
      [
        "a target on the gateway itself",
        async () => exchange({ subject_token: good, resource: `${gatewayBase}/mcp/other` }),
        "invalid_target",
      ],
      ["no target", async () => exchange({ subject_token: good }), "invalid_target"],
      [
        "an audience of another server than the resource",
        async () =>
          exchange({ subject_token: good, resource, audience: "https://payroll.example.com" }),
        "invalid_target",
      ],
      [
        "an audience that is not a URL",
        async () => exchange({ subject_token: good, resource, audience: "payroll" }),
        "invalid_target",
      ],
      [
        "scopes the subject does not hold",
        async () => exchange({ subject_token: good, resource, scope: "admin" }),
        "invalid_scope",
      ],
      [
        "another subject token type",
        async () =>
          exchange({
            subject_token: good,
            resource,
            subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
          }),
        "invalid_request",
      ],
    ];
    for (const [what, pending, error] of cases) {
      const { status, body } = await pending();
      expect(body.error, what).toBe(error);
      expect(status, what).toBeGreaterThanOrEqual(400);
      expect(body.access_token, what).toBeUndefined();
    }
  });
});
