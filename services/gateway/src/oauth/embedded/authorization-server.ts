import { Code, ConnectError, type KeyRing, type Logger } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { createLocalJWKSet, type JWK } from "jose";
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from "oidc-provider";
import { clientAddressOf } from "../../auth/client-address.js";
import type { RateLimiter } from "../../auth/rate-limiter.js";
import { allows, SCOPES, type Scope } from "../../auth/scopes.js";
import { consoleOAuthClient } from "../../console/console-oauth-client.js";
import { createGuardedFetch } from "../../delegation/guarded-fetch.js";
import type { HttpRequest, HttpResponse } from "../../http/types.js";
import { DECOY_HASH, passwordMatches } from "../../users/password.js";
import type { UserStore } from "../../users/user-store.js";
import { canonicalResource, type ResourceUrls } from "../resource-urls.js";
import { mapScopes, type TrustedIssuer } from "../trusted-issuer.js";
import { loadIssuerKeys } from "./issuer-keys.js";
import { createPostgresAdapter, sweepExpired } from "./postgres-adapter.js";
import { renderSignInPage } from "./sign-in-page.js";
import {
  type ExchangeClient,
  GATEWAY_EXCHANGE_CLIENT_ID,
  gatewayExchangeClient,
  registerTokenExchangeGrant,
} from "./token-exchange-grant.js";

/** Where the embedded authorization server is mounted on the gateway. */
export const EMBEDDED_MOUNT = "/oauth";
/** RFC 8414 / OIDC path-inserted discovery URLs of an issuer at {base}/oauth. */
export const EMBEDDED_DISCOVERY_ALIASES = [
  `/.well-known/oauth-authorization-server${EMBEDDED_MOUNT}`,
  `/.well-known/openid-configuration${EMBEDDED_MOUNT}`,
];

/** Options of startEmbeddedAuthorizationServer. */
export interface EmbeddedServerOptions {
  orm: MikroORM;
  users: UserStore;
  urls: ResourceUrls;
  /** Lifetime of access tokens, in seconds. */
  accessTokenTtlSeconds: number;
  /** How long a user known to exist is not looked up again for each token (ms). */
  userCacheMs: number;
  /**
   * Wrong passwords allowed per client address (a burst, refilled per second); beyond, every
   * sign-in from the address is answered 429 until the bucket refills, right password or not.
   */
  signInFailures: { limiter: RateLimiter; perSecond: number; burst: number };
  /** Seals the issuer's signing and cookie keys at rest. */
  keyRing: KeyRing;
  /**
   * Client ID Metadata Documents (an https URL as client_id). `testCa` (PEM; tests only) also
   * allows fetching them from loopback hosts over certificates that CA signed.
   */
  clientMetadataDocuments: { enabled: boolean; testCa?: string };
  logger: Logger;
}

/** The embedded authorization server. */
export interface EmbeddedAuthorizationServer {
  readonly issuer: string;
  /** Serves /oauth/… and the discovery aliases. */
  handle(req: HttpRequest, res: HttpResponse): void;
  /** How the gateway checks the tokens it issues. */
  readonly trusted: TrustedIssuer;
  /** Forgets a removed user at once (their tokens are refused from now on). */
  userRemoved(id: string): void;
  /** The gateway's own client for the token exchange grant (token-exchange-grant.ts). */
  readonly exchangeClient: ExchangeClient;
  close(): void;
}

const OIDC_SCOPES = ["openid", "offline_access", "profile"];
const MAX_FORM_BYTES = 16 * 1024;
/** The draft of Client ID Metadata Documents oidc-provider 9.13 implements (its `ack` value). */
const CIMD_DRAFT = "draft-02";
/** The largest client metadata document fetched, in bytes (the draft's and oidc-provider's). */
const MAX_METADATA_BYTES = 5 * 1024;
/** The largest client JWKS or sector identifier document fetched, in bytes. */
const MAX_CLIENT_JWKS_BYTES = 64 * 1024;
/** How long a fetch of a client's metadata may take (oidc-provider aborts at 2.5 s as well). */
const METADATA_FETCH_TIMEOUT_MS = 2_500;

/**
 * The one-machine default identity provider, built on oidc-provider (OpenID certified): OAuth 2.1
 * authorization code with PKCE (S256, always), dynamic client registration, Client ID Metadata
 * Documents (an https URL as client_id, its document fetched from public addresses only, small
 * and fast or refused), refresh tokens and resource indicators (RFC 8707): each access token is a
 * JWT whose audience is the one resource (an MCP endpoint, or the whole gateway) the client
 * asked for, with the Berth scopes the user was given and agreed to. Users are Berth's own
 * (created by an admin); records, keys (sealed) and sessions live in the gateway's Postgres schema.
 */
export async function startEmbeddedAuthorizationServer(
  options: EmbeddedServerOptions,
): Promise<EmbeddedAuthorizationServer> {
  const { orm, users, urls, logger } = options;
  const issuer = `${urls.base}${EMBEDDED_MOUNT}`;
  const keys = await loadIssuerKeys(orm, options.keyRing);
  const { d: _private, ...publicJwk } = keys.signing;
  const jwks = createLocalJWKSet({ keys: [publicJwk as JWK] });
  const exchange = gatewayExchangeClient(keys.cookies);

  // What the server fetches (client metadata documents, a registered client's jwks_uri) comes
  // from whoever names it: public addresses only, no redirects, small bodies, short timeouts.
  const { testCa } = options.clientMetadataDocuments;
  const outbound = createGuardedFetch(
    { allowLoopback: testCa !== undefined, allowPrivate: false },
    METADATA_FETCH_TIMEOUT_MS,
    testCa,
  );

  const configuration: Configuration = {
    adapter: createPostgresAdapter(orm),
    fetch: outbound.fetch as Configuration["fetch"],
    fetchResponseBodyLimits: {
      "client_id metadata document": MAX_METADATA_BYTES,
      jwks_uri: MAX_CLIENT_JWKS_BYTES,
      sector_identifier_uri: MAX_CLIENT_JWKS_BYTES,
    },
    // The web console signs users in as a first-party client registered here.
    // The gateway itself exchanges users' tokens for upstream ones (token_exchange delegation).
    clients: [consoleOAuthClient(urls.base), exchange.metadata],
    jwks: { keys: [keys.signing as never] },
    cookies: { keys: keys.cookies, long: { signed: true }, short: { signed: true } },
    scopes: [...OIDC_SCOPES, ...SCOPES],
    claims: { openid: ["sub"], profile: ["preferred_username", "name"] },
    responseTypes: ["code"],
    pkce: { required: () => true },
    clientDefaults: {
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      // The issuer's one key is ES256 (no RSA key is made).
      id_token_signed_response_alg: "ES256",
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      // oidc-provider 9 turns DPoP on by default; the gateway checks bearer tokens only (no DPoP
      // proofs), so DPoP-bound tokens would be neither usable nor checked: not offered.
      dPoP: { enabled: false },
      clientIdMetadataDocument: {
        enabled: options.clientMetadataDocuments.enabled,
        ack: CIMD_DRAFT,
        // The MCP authorization specification: the URL has a path (not the bare origin).
        allowFetch: async (_ctx, clientId) => new URL(clientId).pathname.length > 1,
      },
      resourceIndicators: {
        enabled: true,
        // A client that names no resource gets a token for the gateway as a whole.
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? urls.base,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          const canonical = canonicalResource(resource);
          if (!canonical || !urls.isOurs(canonical)) {
            throw new errors.InvalidTarget("the resource is not one of this gateway's");
          }
          return {
            audience: canonical,
            scope: canonical === urls.base ? SCOPES.join(" ") : "mcp",
            accessTokenTTL: options.accessTokenTtlSeconds,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "ES256" } },
          };
        },
      },
    },
    // Public clients (MCP clients in browsers) may call the token endpoint across origins; PKCE,
    // not the origin, protects the code.
    clientBasedCORS: () => true,
    // Refresh tokens for every client allowed the grant, and not tied to the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 14 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      RefreshToken: 30 * 24 * 3600,
    },
    findAccount: async (_ctx, id) => {
      const user = await users.find(id);
      if (!user || user.id !== id) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({
          sub: user.id,
          preferred_username: user.username,
          name: user.displayName || user.username,
        }),
      };
    },
    // The audit trail names the user from the token itself.
    extraTokenClaims: async (_ctx, token) => {
      const accountId = (token as { accountId?: string }).accountId;
      const user = accountId ? await users.find(accountId) : null;
      return user ? { preferred_username: user.username } : undefined;
    },
    interactions: {
      url: async (_ctx, interaction) => `${EMBEDDED_MOUNT}/interaction/${interaction.uid}`,
    },
    renderError: async (ctx: KoaContextWithOIDC, out) => {
      ctx.type = "html";
      const message = Object.entries(out)
        .map(([k, v]) => `<li>${k}: ${String(v).replace(/[<>&"]/g, "")}</li>`)
        .join("");
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><main><h1>Sign-in error</h1><ul>${message}</ul></main></body></html>`;
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on("server_error", (_ctx, error) => logger.error({ err: error }, "OAuth server error"));
  const callback = provider.callback();

  // Expired codes, sessions and tokens leave the table now and then.
  const sweeper = setInterval(() => {
    sweepExpired(orm).catch((error) => logger.warn({ err: error }, "OAuth sweep failed"));
  }, 10 * 60_000);
  sweeper.unref();

  const known = new Map<string, number>();
  const trusted: TrustedIssuer = {
    issuer,
    audiences: [],
    keys: async () => jwks,
    scopesOf: (claims) => mapScopes(claims),
    nameOf: (claims) =>
      typeof claims.preferred_username === "string"
        ? claims.preferred_username
        : (claims.sub ?? ""),
    // A removed user's tokens stop working at once, not when they expire.
    async check(claims) {
      const id = claims.sub ?? "";
      if ((known.get(id) ?? 0) > Date.now()) return;
      const user = await users.find(id);
      if (!user || user.id !== id) {
        throw new ConnectError(
          "the user of this access token no longer exists",
          Code.Unauthenticated,
        );
      }
      if (known.size > 10_000) known.clear();
      known.set(id, Date.now() + options.userCacheMs);
    },
  };

  // RFC 8693 for the gateway's own client: a user's token for Berth becomes one for an upstream
  // (json_spec.delegation type token_exchange), never one for Berth's own resources.
  registerTokenExchangeGrant(provider, {
    issuer,
    verifyKeys: jwks,
    signingKey: keys.signing,
    mayExchange: (clientId) => clientId === GATEWAY_EXCHANGE_CLIENT_ID,
    subjectAudienceAllowed: (audience) => urls.isOurs(audience),
    targetAllowed: (target) => URL.parse(target)?.origin !== new URL(urls.base).origin,
    sameOriginTargets: true,
    checkSubject: (claims) => trusted.check!(claims),
    ttlSeconds: options.accessTokenTtlSeconds,
  });

  const handle = (req: HttpRequest, res: HttpResponse) => {
    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "/";
    if (path.startsWith(`${EMBEDDED_MOUNT}/interaction/`)) {
      interaction(req, res, path).catch((error) => {
        logger.warn({ err: error }, "sign-in failed");
        if (!res.headersSent) {
          res.statusCode = error instanceof errors.SessionNotFound ? 400 : 500;
          res.setHeader("content-type", "text/plain; charset=utf-8");
        }
        res.end(
          error instanceof errors.SessionNotFound
            ? "This sign-in has expired or was finished already: start again from your client."
            : "The sign-in failed.",
        );
      });
      return;
    }
    const mounted = req as HttpRequest & { originalUrl?: string };
    mounted.originalUrl = url;
    if (EMBEDDED_DISCOVERY_ALIASES.includes(path)) {
      mounted.originalUrl = `${EMBEDDED_MOUNT}/.well-known/openid-configuration`;
      req.url = "/.well-known/openid-configuration";
    } else {
      req.url = url.slice(EMBEDDED_MOUNT.length) || "/";
    }
    (callback as (req: HttpRequest, res: HttpResponse) => void)(req, res);
  };

  async function interaction(req: HttpRequest, res: HttpResponse, path: string): Promise<void> {
    const details = await provider.interactionDetails(req as never, res as never);
    if (path !== `${EMBEDDED_MOUNT}/interaction/${details.uid}`) {
      throw new errors.SessionNotFound("interaction mismatch");
    }
    const params = details.params as Record<string, string | string[] | undefined>;
    const client = await provider.Client.find(String(params.client_id));
    const requested = String(params.scope ?? "")
      .split(" ")
      .filter(Boolean);
    const resources = [params.resource ?? urls.base].flat() as string[];
    const signedIn = details.prompt.name === "login" ? undefined : details.session?.accountId;
    const signedInUser = signedIn ? await users.find(signedIn) : null;
    // A client named by its metadata document's URL: the page shows that URL's host too (the MCP
    // specification's advice against a document that borrows another client's name).
    const byDocument = (client as { clientIdMetadataDocument?: boolean } | undefined)
      ?.clientIdMetadataDocument;
    const view = {
      action: path,
      clientName: client?.clientName ?? String(params.client_id),
      ...(byDocument && client ? { clientHost: new URL(client.clientId).host } : {}),
      resources,
      scopes: requested.filter((s) => !OIDC_SCOPES.includes(s)),
      ...(signedInUser ? { signedInAs: signedInUser.username } : {}),
    };
    if (req.method === "GET") return page(res, 200, renderSignInPage(view));
    if (req.method !== "POST") return page(res, 405, "method not allowed");

    const form = await readForm(req);
    if (form.get("action") === "deny") {
      await provider.interactionFinished(
        req as never,
        res as never,
        {
          error: "access_denied",
          error_description: "the user denied the request",
        },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    let user = signedInUser;
    if (!user) {
      const { limiter, perSecond, burst } = options.signInFailures;
      const address = clientAddressOf(req) ?? "";
      const allowed = limiter.peek(address, perSecond, burst);
      if (!allowed.ok) {
        res.setHeader("retry-after", String(allowed.retryAfterSeconds));
        const error = `Too many wrong passwords from this address: try again in ${allowed.retryAfterSeconds} s.`;
        return page(res, 429, renderSignInPage({ ...view, error }));
      }
      const username = form.get("username") ?? "";
      const found = await users.find(username);
      const ok = await passwordMatches(
        form.get("password") ?? "",
        found?.passwordHash ?? (await DECOY_HASH),
      );
      if (!found || !ok) {
        limiter.take(address, perSecond, burst);
        return page(
          res,
          401,
          renderSignInPage({ ...view, username, error: "The user name or password is wrong." }),
        );
      }
      user = found;
    }
    const berthScopes = requested.filter((s): s is Scope =>
      (SCOPES as readonly string[]).includes(s),
    );
    const refused = berthScopes.filter((s) => !allows(user.scopes as Scope[], s));
    if (refused.length > 0) {
      await provider.interactionFinished(
        req as never,
        res as never,
        {
          error: "access_denied",
          error_description: `user ${user.username} may not have scope ${refused.join(" ")}`,
        },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ??
        newGrant(user.id, String(params.client_id)))
      : newGrant(user.id, String(params.client_id));
    grant.addOIDCScope(requested.join(" "));
    for (const resource of resources) grant.addResourceScope(resource, berthScopes.join(" "));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req as never,
      res as never,
      { login: { accountId: user.id }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  function newGrant(accountId: string, clientId: string) {
    return new provider.Grant({ accountId, clientId });
  }

  return {
    issuer,
    handle,
    trusted,
    userRemoved: (id) => known.delete(id),
    exchangeClient: exchange.client,
    close: () => {
      clearInterval(sweeper);
      void outbound.close();
    },
  };
}

function page(res: HttpResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  // The page may not be framed (clickjacking of the Allow button).
  res.setHeader("x-frame-options", "DENY");
  res.setHeader(
    "content-security-policy",
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  );
  res.end(html);
}

function readForm(req: HttpRequest): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        req.destroy();
        reject(new Error("form too large"));
      } else chunks.push(chunk);
    });
    req.once("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
    req.once("error", reject);
  });
}
