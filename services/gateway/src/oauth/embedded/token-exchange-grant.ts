import { createHmac, randomUUID } from "node:crypto";
import {
  importJWK,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import { type ClientMetadata, errors, type KoaContextWithOIDC, type Provider } from "oidc-provider";

/** RFC 8693 grant type. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 8693 token type of an OAuth access token. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** The client id the gateway exchanges tokens as at its own embedded authorization server. */
export const GATEWAY_EXCHANGE_CLIENT_ID = "berth-gateway";

/** A client that authenticates with a secret at a token endpoint. */
export interface ExchangeClient {
  clientId: string;
  clientSecret: string;
}

/**
 * The gateway's own confidential client at the embedded authorization server, allowed the
 * token exchange grant and nothing else. Its secret is derived from the issuer's stored cookie
 * key, so every replica knows it without another stored value, and it never leaves the gateway.
 */
export function gatewayExchangeClient(cookieKeys: readonly string[]): {
  client: ExchangeClient;
  metadata: ClientMetadata;
} {
  const clientSecret = createHmac("sha256", cookieKeys[0] ?? "")
    .update("berth-gateway token exchange client")
    .digest("base64url");
  return {
    client: { clientId: GATEWAY_EXCHANGE_CLIENT_ID, clientSecret },
    metadata: {
      client_id: GATEWAY_EXCHANGE_CLIENT_ID,
      client_secret: clientSecret,
      client_name: "Berth gateway (token exchange)",
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: [TOKEN_EXCHANGE_GRANT],
      response_types: [],
      redirect_uris: [],
    },
  };
}

const PARAMETERS = [
  "subject_token",
  "subject_token_type",
  "requested_token_type",
  "actor_token",
  "actor_token_type",
  "audience",
  "resource",
  "scope",
];

/** Options of registerTokenExchangeGrant. */
export interface TokenExchangeGrantOptions {
  /** The issuer's own identifier: subject tokens must be its own, minted tokens carry it. */
  issuer: string;
  /** The issuer's public keys (subject tokens are verified with them). */
  verifyKeys: JWTVerifyGetKey;
  /** The issuer's private signing key (a JWK with alg and kid). */
  signingKey: JWK;
  /**
   * Whether this (authenticated, confidential) client may exchange tokens. Registering the grant
   * type lets dynamically registered clients ask for it too; this decides who really may.
   */
  mayExchange(clientId: string): boolean;
  /** Whether a subject token's audience is one this issuer accepts for exchange. */
  subjectAudienceAllowed(audience: string): boolean;
  /** Whether a token may be minted for this resource or audience (refuse the issuer's own). */
  targetAllowed(target: string): boolean;
  /**
   * Every resource and audience must be a URL of one server (one origin): a token names only the
   * server it is sent to (the gateway checks that a resource is on the instance's endpoint).
   */
  sameOriginTargets?: boolean;
  /** Refuses a subject whose tokens no longer count (a removed user); optional. */
  checkSubject?(claims: JWTPayload): Promise<void>;
  /** Longest lifetime of a minted token, in seconds (never beyond the subject token's). */
  ttlSeconds: number;
  clockToleranceSeconds?: number;
}

const listOf = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
    (v): v is string => typeof v === "string" && v !== "",
  );

const scopesIn = (value: unknown): string[] =>
  typeof value === "string" ? value.split(" ").filter(Boolean) : listOf(value);

/**
 * The token exchange grant (RFC 8693) of an oidc-provider authorization server: a confidential
 * client allowed to (the gateway) hands in an access token this issuer minted for one of its
 * resources, and gets a new access token (a JWT) for another resource, with the same subject,
 * scopes narrowed to those asked for and held by the subject token, an expiry no later than the
 * subject token's, and an `act` claim naming the client (RFC 8693 section 4.1) so that the
 * resource sees who acts for the user. Only access tokens are exchanged, never for the issuer's
 * own resources (an exchange must not widen a token to the whole gateway).
 *
 * Uses only `registerGrantType`, `ctx.oidc.client` and `ctx.oidc.params`, which oidc-provider 8
 * and 9 both have; the token is signed here with the issuer's key (jose), not through the
 * provider's token models, whose resource-server checks admit only the gateway's resources.
 */
export function registerTokenExchangeGrant(
  provider: Provider,
  options: TokenExchangeGrantOptions,
): void {
  const tolerance = options.clockToleranceSeconds ?? 30;
  const alg = options.signingKey.alg ?? "ES256";
  const signingKey = importJWK(options.signingKey, alg);

  const handler = async (ctx: KoaContextWithOIDC, next?: () => Promise<void>) => {
    const client = ctx.oidc.client;
    if (!client || client.clientAuthMethod === "none" || !options.mayExchange(client.clientId)) {
      throw new errors.UnauthorizedClient("this client may not exchange tokens");
    }
    const params = ctx.oidc.params as Record<string, unknown>;
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE)
      throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    if (
      params.requested_token_type !== undefined &&
      params.requested_token_type !== ACCESS_TOKEN_TYPE
    )
      throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    if (params.actor_token !== undefined)
      throw new errors.InvalidRequest("actor_token is not supported: the client is the actor");
    const subjectToken = params.subject_token;
    if (typeof subjectToken !== "string" || subjectToken === "")
      throw new errors.InvalidRequest("subject_token is required");

    let subject: JWTPayload;
    try {
      ({ payload: subject } = await jwtVerify(subjectToken, options.verifyKeys, {
        issuer: options.issuer,
        clockTolerance: tolerance,
        requiredClaims: ["exp", "sub", "aud"],
      }));
    } catch {
      throw new errors.InvalidGrant("the subject token is not a valid access token of this issuer");
    }
    if (!listOf(subject.aud).some((aud) => options.subjectAudienceAllowed(aud)))
      throw new errors.InvalidGrant(
        "the subject token was not issued for a resource of this issuer",
      );
    try {
      await options.checkSubject?.(subject);
    } catch {
      throw new errors.InvalidGrant("the subject token's user no longer exists");
    }

    const targets = [...new Set([...listOf(params.resource), ...listOf(params.audience)])];
    if (targets.length === 0) throw new errors.InvalidTarget("resource or audience is required");
    for (const target of targets) {
      if (target.length > 2048 || !options.targetAllowed(target))
        throw new errors.InvalidTarget(`tokens are not exchanged for ${target.slice(0, 200)}`);
    }
    if (options.sameOriginTargets) {
      const origins = new Set(targets.map((target) => URL.parse(target)?.origin ?? "null"));
      if (origins.has("null") || origins.size !== 1)
        throw new errors.InvalidTarget("resource and audience must be URLs of one server");
    }
    const held = scopesIn(subject.scope);
    const asked = scopesIn(params.scope);
    const scopes = asked.length > 0 ? asked.filter((s) => held.includes(s)) : held;
    if (asked.length > 0 && scopes.length === 0)
      throw new errors.InvalidScope(
        "the subject token holds none of the requested scopes",
        asked.join(" "),
      );

    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(now + options.ttlSeconds, subject.exp as number);
    if (exp <= now) throw new errors.InvalidGrant("the subject token has expired");
    // A token that was itself exchanged keeps its chain of actors (RFC 8693 section 4.1).
    const act = {
      sub: client.clientId,
      ...(typeof subject.act === "object" && subject.act ? { act: subject.act } : {}),
    };
    const token = await new SignJWT({
      ...(typeof subject.preferred_username === "string"
        ? { preferred_username: subject.preferred_username }
        : {}),
      client_id: client.clientId,
      ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {}),
      act,
    })
      .setProtectedHeader({
        alg,
        typ: "at+jwt",
        ...(options.signingKey.kid ? { kid: options.signingKey.kid } : {}),
      })
      .setIssuer(options.issuer)
      .setSubject(subject.sub as string)
      .setAudience(targets.length === 1 ? targets[0]! : targets)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(await signingKey);

    ctx.body = {
      access_token: token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: "Bearer",
      expires_in: exp - now,
      ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {}),
    };
    await next?.();
  };
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler as never, PARAMETERS, [
    "audience",
    "resource",
  ]);
}
