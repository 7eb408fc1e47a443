import type { Logger } from "@berth/platform";
import type { TokenExchangeSpec } from "@berth/spec";
import type { Principal } from "../auth/types.js";
import { McpProxyError } from "../mcp/types.js";
import type { ExchangeClient } from "../oauth/embedded/token-exchange-grant.js";
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from "../oauth/embedded/token-exchange-grant.js";
import { discoveryUrls } from "../oauth/external-issuers.js";
import { subjectTokenOf } from "../oauth/subject-tokens.js";

/** A url instance that exchanges its callers' tokens (json_spec.delegation type token_exchange). */
export interface InstanceExchange {
  id: string;
  name: string;
  /** The upstream's MCP endpoint: the default resource of exchanged tokens. */
  endpoint: string;
  exchange: TokenExchangeSpec;
}

/** Options of createTokenExchanger. */
export interface TokenExchangerOptions {
  /**
   * The gateway's own client at a trusted issuer (the embedded server's built-in one, or
   * BERTH_OAUTH_ISSUERS[].tokenExchange); undefined: it has none there.
   */
  clientFor(issuer: string): ExchangeClient | undefined;
  /** An exchanged token is exchanged again when less than this is left of it. */
  renewBeforeMs: number;
  /** Reaches the issuers' discovery and token endpoints (operator-configured issuers only). */
  fetch?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  timeoutMs?: number;
  logger: Logger;
  now?: () => number;
}

/** What a caller sees of their exchanged token for an instance (never the token). */
export interface ExchangeStatus {
  /** Whether the caller's sign-in can be exchanged here (a person, from the right issuer). */
  ready: boolean;
  issuer: string;
  scopes: string[];
  expireTime?: Date;
}

/** Token exchange (RFC 8693) per user and instance, with a cache until shortly before expiry. */
export interface TokenExchanger {
  /** The upstream token for this caller and instance; throws McpProxyError with a clear reason. */
  tokenFor(principal: Principal, instance: InstanceExchange): Promise<string>;
  status(principal: Principal, instance: InstanceExchange): ExchangeStatus;
  /** Forgets cached tokens whose key (`instanceId user`) matches. */
  forget(match: (instanceId: string, user: string) => boolean): number;
}

interface Metadata {
  tokenEndpoint: string;
  /** Whether the issuer takes client_secret_basic (else client_secret_post is used). */
  basic: boolean;
}

const RETRY = { "retry-after": "5" };
const METADATA_TTL_MS = 10 * 60_000;
const MAX_CACHED = 10_000;

/**
 * The gateway's side of token exchange: for a caller who signed in with an access token, that
 * token (and only it) goes to the token endpoint of the issuer that minted it, found by
 * discovery, with the gateway authenticating as its own confidential client there; the answer
 * is a token minted for the upstream, sent as its `authorization` instead of anything of Berth's.
 * The subject token never goes to any other issuer (the instance cannot name another one) nor
 * upstream. Results are cached per user and instance until shortly before they expire, one
 * exchange at a time per key. Nothing here logs a token or a response body.
 */
export function createTokenExchanger(options: TokenExchangerOptions): TokenExchanger {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const fetchFn = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const metadata = new Map<string, { until: number; value: Promise<Metadata> }>();
  const tokens = new Map<
    string,
    { token: string; until: number; expireTime?: Date; scope?: string }
  >();
  const pending = new Map<string, Promise<string>>();

  const unavailable = (instance: InstanceExchange, issuer: string, why: string) => {
    logger.warn(
      { instance_id: instance.id, issuer, reason: why.slice(0, 300) },
      "token exchange failed",
    );
    return new McpProxyError(
      503,
      `instance ${JSON.stringify(instance.name)} exchanges your sign-in for an upstream token, and the issuer ${issuer} cannot be reached now (${why.slice(0, 200)}): try again shortly`,
      RETRY,
    );
  };

  const discover = async (issuer: string): Promise<Metadata> => {
    let last = "no discovery document";
    for (const url of discoveryUrls(issuer)) {
      let response: Response;
      try {
        response = await fetchFn(url, {
          headers: { accept: "application/json" },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        last = (error as Error).message;
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        last = `${url} answered ${response.status}`;
        continue;
      }
      const document = (await response.json()) as Record<string, unknown>;
      if (document.issuer !== issuer) throw new Error(`discovery answered another issuer`);
      const grants = document.grant_types_supported;
      if (!Array.isArray(grants) || !grants.includes(TOKEN_EXCHANGE_GRANT)) {
        throw new McpProxyError(
          400,
          `the issuer ${issuer} does not support token exchange (its grant_types_supported does not list ${TOKEN_EXCHANGE_GRANT})`,
        );
      }
      if (typeof document.token_endpoint !== "string")
        throw new Error("the discovery document names no token_endpoint");
      const methods = document.token_endpoint_auth_methods_supported;
      return {
        tokenEndpoint: document.token_endpoint,
        basic:
          !Array.isArray(methods) ||
          methods.includes("client_secret_basic") ||
          !methods.includes("client_secret_post"),
      };
    }
    throw new Error(last);
  };

  const metadataOf = (issuer: string): Promise<Metadata> => {
    const cached = metadata.get(issuer);
    if (cached && cached.until > now()) return cached.value;
    const value = discover(issuer);
    metadata.set(issuer, { until: now() + METADATA_TTL_MS, value });
    value.catch(() => metadata.delete(issuer));
    return value;
  };

  /** The issuer the caller's token goes to, or why it may not go anywhere. */
  const issuerFor = (principal: Principal, instance: InstanceExchange) => {
    const subjectToken = subjectTokenOf(principal);
    if (!principal.user || subjectToken === undefined) {
      throw new McpProxyError(
        403,
        `instance ${JSON.stringify(instance.name)} exchanges each caller's own sign-in token for an upstream token (token exchange): an API key has no user token to exchange; sign in as a person (OAuth, berth login) and call again`,
      );
    }
    const issuer = principal.user.issuer;
    // The subject token only ever goes back to the issuer that minted it.
    if (instance.exchange.issuer !== undefined && instance.exchange.issuer !== issuer) {
      throw new McpProxyError(
        403,
        `instance ${JSON.stringify(instance.name)} exchanges tokens of the issuer ${instance.exchange.issuer}; you signed in at ${issuer}: sign in there and call again`,
      );
    }
    return { issuer, subjectToken };
  };

  const exchange = async (
    instance: InstanceExchange,
    issuer: string,
    subjectToken: string,
    user: string,
  ) => {
    const client = options.clientFor(issuer);
    if (!client) {
      throw new McpProxyError(
        400,
        `instance ${JSON.stringify(instance.name)} needs token exchange at ${issuer}, and the gateway has no client there: configure one (BERTH_OAUTH_ISSUERS[].tokenExchange)`,
      );
    }
    let server: Metadata;
    try {
      server = await metadataOf(issuer);
    } catch (error) {
      if (error instanceof McpProxyError) throw error;
      throw unavailable(instance, issuer, (error as Error).message);
    }
    const { exchange: spec } = instance;
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      resource: spec.resource ?? instance.endpoint,
    });
    if (spec.audience) form.set("audience", spec.audience);
    if (spec.scopes.length > 0) form.set("scope", spec.scopes.join(" "));
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (server.basic) {
      // RFC 6749 section 2.3.1: both parts form-encoded before base64.
      const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
      headers.authorization = `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString("base64")}`;
    } else {
      form.set("client_id", client.clientId);
      form.set("client_secret", client.clientSecret);
    }
    let response: Response;
    try {
      response = await fetchFn(server.tokenEndpoint, {
        method: "POST",
        headers,
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw unavailable(instance, issuer, (error as Error).message);
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await response.json()) as Record<string, unknown>;
    } catch {
      body = {};
    }
    if (response.status >= 500 || response.status === 429)
      throw unavailable(instance, issuer, `the token endpoint answered ${response.status}`);
    if (!response.ok) {
      // The issuer's error code and description, never echoing anything that holds the token.
      const code = typeof body.error === "string" ? body.error.slice(0, 64) : `${response.status}`;
      const said =
        typeof body.error_description === "string" && !body.error_description.includes(subjectToken)
          ? `: ${body.error_description.slice(0, 200)}`
          : "";
      logger.info(
        { instance_id: instance.id, user, issuer, error: code },
        "token exchange refused",
      );
      if (code === "invalid_grant") {
        throw new McpProxyError(
          403,
          `the issuer ${issuer} refused to exchange your token for instance ${JSON.stringify(instance.name)}'s upstream (invalid_grant${said}): sign in again`,
        );
      }
      throw new McpProxyError(
        502,
        `the issuer ${issuer} refused the gateway's token exchange for instance ${JSON.stringify(instance.name)} (${code}${said})`,
      );
    }
    const accessToken = body.access_token;
    const tokenType = typeof body.token_type === "string" ? body.token_type.toLowerCase() : "";
    if (typeof accessToken !== "string" || accessToken === "" || tokenType !== "bearer") {
      throw new McpProxyError(
        502,
        `the issuer ${issuer} answered the token exchange for instance ${JSON.stringify(instance.name)} without a bearer access token`,
      );
    }
    const expiresIn = typeof body.expires_in === "number" ? body.expires_in : undefined;
    return {
      token: accessToken,
      ...(expiresIn !== undefined ? { expireTime: new Date(now() + expiresIn * 1000) } : {}),
      ...(typeof body.scope === "string" ? { scope: body.scope } : {}),
    };
  };

  return {
    async tokenFor(principal, instance) {
      const { issuer, subjectToken } = issuerFor(principal, instance);
      const user = principal.keyId;
      const key = `${instance.id} ${user}`;
      const cached = tokens.get(key);
      if (cached && cached.until > now()) return cached.token;
      let flight = pending.get(key);
      if (!flight) {
        flight = (async () => {
          const issued = await exchange(instance, issuer, subjectToken, user);
          const until = issued.expireTime
            ? issued.expireTime.getTime() - options.renewBeforeMs
            : now() + 60_000;
          if (tokens.size >= MAX_CACHED) tokens.clear();
          // A token too short-lived to cache is still used for this call.
          if (until > now()) tokens.set(key, { ...issued, until });
          logger.info(
            { instance_id: instance.id, user, issuer },
            "token exchanged for the upstream",
          );
          return issued.token;
        })().finally(() => pending.delete(key));
        pending.set(key, flight);
      }
      return flight;
    },

    status(principal, instance) {
      const issuer = instance.exchange.issuer ?? principal.user?.issuer ?? "";
      const ready =
        principal.user !== undefined &&
        (instance.exchange.issuer === undefined ||
          instance.exchange.issuer === principal.user.issuer);
      const cached = tokens.get(`${instance.id} ${principal.keyId}`);
      const live = cached && cached.until > now() ? cached : undefined;
      return {
        ready,
        issuer,
        scopes: live?.scope ? live.scope.split(" ") : instance.exchange.scopes,
        ...(live?.expireTime ? { expireTime: live.expireTime } : {}),
      };
    },

    forget(match) {
      let dropped = 0;
      for (const key of tokens.keys()) {
        const [instanceId = "", user = ""] = key.split(" ");
        if (match(instanceId, user)) {
          tokens.delete(key);
          dropped++;
        }
      }
      return dropped;
    },
  };
}
