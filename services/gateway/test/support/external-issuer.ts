import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";
import {
  type ExchangeClient,
  registerTokenExchangeGrant,
  TOKEN_EXCHANGE_GRANT,
} from "../../src/oauth/embedded/token-exchange-grant.js";

/** An OpenID provider started by a test: the "external" identity provider of a company. */
export interface ExternalIssuer {
  issuer: string;
  /** Users who can sign in (name → password); delete one to remove the user. */
  users: Map<string, string>;
  /** The groups claim of a user's tokens (["berth-users"] for a user not listed). */
  groups: Map<string, string[]>;
  /** Token exchange requests answered (any outcome), when the grant is enabled. */
  exchanges: number;
  /** Refresh token grants it has answered with new tokens (a count, as its own log would). */
  refreshes(): number;
  /** Access token lifetimes (seconds) of resources that differ from the issuer's default. */
  ttlByResource: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * A second, independent oidc-provider on loopback, with its own keys and users, issuing JWT
 * access tokens for any resource under `resourceBase` (resource indicators), the scope `mcp`,
 * and a `groups` claim. Its sign-in page is a plain form (user name and password).
 */
export async function startExternalIssuer(
  resourceBase: () => string,
  options: {
    accessTokenTtlSeconds?: number;
    /**
     * Enables the token exchange grant (RFC 8693, Berth's own handler) for this one confidential
     * client, exchanging tokens minted for resources under `resourceBase` into tokens for others.
     */
    tokenExchange?: ExchangeClient;
  } = {},
): Promise<ExternalIssuer> {
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 300;
  const users = new Map<string, string>();
  const groups = new Map<string, string[]>();
  const ttlByResource = new Map<string, number>();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey: JWK = {
    ...(await exportJWK(privateKey)),
    alg: "RS256",
    use: "sig",
    kid: "ext",
  };
  const exchangeClient = options.tokenExchange;
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey as never] },
    ...(exchangeClient
      ? {
          clients: [
            {
              client_id: exchangeClient.clientId,
              client_secret: exchangeClient.clientSecret,
              token_endpoint_auth_method: "client_secret_basic",
              grant_types: [TOKEN_EXCHANGE_GRANT],
              response_types: [],
              redirect_uris: [],
            },
          ],
        }
      : {}),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? resourceBase(),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => ({
          audience: resource,
          scope: "mcp",
          accessTokenTTL: ttlByResource.get(resource) ?? accessTokenTtl,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    pkce: { required: () => true },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      Grant: 3600,
      Interaction: 600,
      RefreshToken: 3600,
      Session: 3600,
    },
    scopes: ["openid", "offline_access", "mcp"],
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    findAccount: async (_ctx, sub) =>
      users.has(sub) ? { accountId: sub, claims: async () => ({ sub }) } : undefined,
    extraTokenClaims: async (_ctx, token) => ({
      groups: groups.get((token as { accountId?: string }).accountId ?? "") ?? ["berth-users"],
      email: `${(token as { accountId?: string }).accountId}@example.test`,
    }),
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  const result = { exchanges: 0 };
  if (exchangeClient) {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicKey } = signingKey;
    registerTokenExchangeGrant(provider, {
      issuer,
      verifyKeys: createLocalJWKSet({ keys: [publicKey] }),
      signingKey,
      mayExchange: (clientId) => {
        result.exchanges++;
        return clientId === exchangeClient.clientId;
      },
      subjectAudienceAllowed: (audience) => audience.startsWith(resourceBase()),
      targetAllowed: (target) => !target.startsWith(resourceBase()),
      ttlSeconds: accessTokenTtl,
    });
  }
  let refreshes = 0;
  provider.on("grant.success", (ctx) => {
    if ((ctx.oidc.params as { grant_type?: string } | undefined)?.grant_type === "refresh_token")
      refreshes++;
  });
  const callback = provider.callback();
  server.on("request", (req, res) => {
    if (!req.url?.startsWith("/interaction/")) {
      callback(req, res);
      return;
    }
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (req.method === "GET") {
        res.setHeader("content-type", "text/html");
        res.end(
          `<form method="post" action="/interaction/${details.uid}"><input name="username"><input name="password" type="password"><button>Sign in</button></form>`,
        );
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const name = form.get("username") ?? "";
      if (!users.has(name) || users.get(name) !== form.get("password")) {
        res.statusCode = 401;
        res.end("wrong user name or password");
        return;
      }
      const params = details.params as Record<string, string>;
      const grant = new provider.Grant({ accountId: name, clientId: params.client_id! });
      grant.addOIDCScope(String(params.scope ?? ""));
      grant.addResourceScope(String(params.resource ?? resourceBase()), "mcp");
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: name }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  return {
    issuer,
    users,
    groups,
    get exchanges() {
      return result.exchanges;
    },
    ttlByResource,
    refreshes: () => refreshes,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
