import { createHash, randomBytes } from "node:crypto";
import { Code, ConnectError, failedPrecondition, type Logger, notFound } from "@berth/platform";
import type {
  InstancesService,
  McpServerInstance,
  UserGrantsService,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { type DelegationSpec, readJsonSpec } from "@berth/spec";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import {
  exchangeAuthorization,
  refreshAuthorization,
  startAuthorization,
} from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import type { Principal } from "../auth/types.js";
import { createStaleCache } from "../mcp/stale-cache.js";
import type { InstanceIdentity, McpEndpoint } from "../mcp/types.js";
import { McpProxyError } from "../mcp/types.js";
import { MCP_ACCESS } from "../teams/access-table.js";
import { authorize } from "../teams/team-access.js";
import { fromUpstream } from "../upstream-error.js";
import type { InstanceExchange, TokenExchanger } from "./token-exchange.js";
import {
  discoverUpstreamAuthorization,
  registerGatewayClient,
  type UpstreamAuthorization,
} from "./upstream-authorization.js";

/** The path of the callback every upstream authorization server redirects to. */
export const DELEGATION_CALLBACK_PATH = "/delegation/callback";

/** A user's grant as sealed by the instances service (UserGrantsService): never in a response. */
interface StoredGrant {
  issuer: string;
  clientId: string;
  accessToken: string;
  refreshToken?: string;
  /** Epoch milliseconds; undefined: the server did not say. */
  expiresAt?: number;
  scope?: string;
}

/** The gateway's client registration at an upstream's authorization server (user ""). */
interface StoredClient {
  issuer: string;
  redirectUri: string;
  client: OAuthClientInformationMixed;
}

/** Options of createDelegatedCredentials. */
export interface DelegatedCredentialsOptions {
  instances: Client<typeof InstancesService>;
  grants: Client<typeof UserGrantsService>;
  orm: MikroORM;
  /** The gateway's public base URL (known once it listens). */
  publicUrl: () => string;
  /** Reaches upstream authorization servers (createGuardedFetch). */
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /** A token is refreshed when less than this is left of it. */
  refreshBeforeMs: number;
  /** How long a flow may take from start to callback. */
  flowTtlMs?: number;
  /** How long an instance's delegation (json_spec) is cached; instance events drop it sooner. */
  specTtlMs?: number;
  logger: Logger;
  now?: () => number;
  /** Token exchange for instances whose delegation is of type token_exchange (token-exchange.ts). */
  exchange?: TokenExchanger;
}

/** The connection state of one user and instance (never a token). */
export interface ConnectionStatus {
  connected: boolean;
  scopes: string[];
  expireTime?: Date;
  issuer: string;
  /** The delegation kind: "oauth" (connect once) or "token_exchange" (exchanged per call). */
  delegationType?: "oauth" | "token_exchange";
}

/** Delegated upstream credentials: the flow, the storage, the refresh, and the per-call token. */
export interface DelegatedCredentials {
  /** Starts the authorization code flow with PKCE for the caller: the URL to open. */
  start(principal: Principal, ref: string): Promise<{ authorizationUrl: string; expireTime: Date }>;
  status(principal: Principal, ref: string): Promise<ConnectionStatus>;
  disconnect(principal: Principal, ref: string): Promise<boolean>;
  /** The callback's work: the HTML page shown in the browser, and its status. */
  complete(query: URLSearchParams): Promise<{ status: number; message: string }>;
  /**
   * The MCP proxy's hook: the endpoint with the caller's own upstream token as `authorization`
   * when the instance declares delegation; the endpoint unchanged otherwise.
   */
  endpointFor(
    principal: Principal,
    instance: InstanceIdentity,
    endpoint: McpEndpoint,
  ): Promise<McpEndpoint>;
  /**
   * The upstream answered 401 to a call made with `sent` (an endpoint endpointFor gave): the
   * token was revoked or expired upstream. The grant is refreshed (unless another call already
   * did) and the endpoint with the new token returned, for one more try; when that fails too the
   * grant is deleted and the caller told to connect again (a McpProxyError), so that the
   * upstream's own challenge never reaches the MCP client (it would send the client to the
   * upstream's authorization server with the wrong identity).
   */
  reauthorize(
    principal: Principal,
    instance: InstanceIdentity,
    sent: McpEndpoint,
  ): Promise<McpEndpoint>;
  /** An instance changed or went away: forget what is cached of it. */
  invalidate(instanceId: string): void;
  /** A person was removed: their grants and flows go. */
  userRemoved(actorId: string): Promise<void>;
}

const FLOWS = `"gateway"."delegation_flows"`;
const hashState = (state: string) => createHash("sha256").update(state).digest("hex");

/** What the caller's grants are filed under: the actor id of a person, never an API key. */
function personOf(principal: Principal): string {
  if (!principal.user) {
    throw new ConnectError(
      "delegated credentials belong to people: sign in with OAuth (berth login), not an API key",
      Code.PermissionDenied,
    );
  }
  return principal.keyId;
}

/**
 * Delegated upstream credentials (json_spec.delegation). The gateway is an OAuth client of the
 * upstream's authorization server on each user's behalf: it starts the authorization code flow
 * with PKCE for the signed-in user (the state is bound to that user and instance, single-use,
 * and stored only as a hash), takes the code at its callback, and has the instances service
 * seal the tokens (the owner of sealed values and of the key ring). On each MCP call of that
 * user it sends their access token upstream, refreshed before it expires: never another user's,
 * never the caller's Berth token (the forwarder drops the caller's `authorization`).
 */
export function createDelegatedCredentials(
  options: DelegatedCredentialsOptions,
): DelegatedCredentials {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const flowTtlMs = options.flowTtlMs ?? 10 * 60_000;
  const specTtlMs = options.specTtlMs ?? 30_000;
  const callbackUrl = () => `${options.publicUrl()}${DELEGATION_CALLBACK_PATH}`;

  const MAX_CACHED = 10_000;
  // What is cached per instance: its delegation (or none), and its authorization server.
  // The data plane outlives the control plane: a delegation read before is served while the
  // instances service is away (refreshed in the background), like the proxy's own lookups.
  const specs = createStaleCache<InstanceDelegation | InstanceExchange | null>({
    ttlMs: specTtlMs,
    isOutage: (error) => error instanceof ConnectError && error.code === Code.Unavailable,
    onStale: (key) =>
      logger.warn({ instance_id: key, stale: true }, "serving the last known delegation"),
    maxEntries: MAX_CACHED,
    ...(options.now ? { now: options.now } : {}),
  });
  const servers = new Map<string, { until: number; value: Promise<UpstreamAuthorization> }>();
  // Access tokens per instance and user, until shortly before they expire; refreshes in flight.
  const tokens = new Map<string, { token: string; until: number }>();
  const refreshing = new Map<string, Promise<string>>();

  interface InstanceDelegation {
    id: string;
    name: string;
    endpoint: string;
    delegation: DelegationSpec;
  }

  const loadInstance = async (
    ref: string,
  ): Promise<{
    id: string;
    name: string;
    team: string;
    delegation?: InstanceDelegation;
    exchange?: InstanceExchange;
  }> => {
    let instance: McpServerInstance | undefined;
    try {
      ({ instance } = await options.instances.getInstance({ id: ref }));
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.NotFound)
        throw notFound("instance", ref);
      throw fromUpstream(error, "instances", false);
    }
    if (!instance) throw notFound("instance", ref);
    const read = readJsonSpec((instance.jsonSpec ?? {}) as JsonObject);
    const spec = read.ok ? read.spec : undefined;
    const delegation =
      spec?.type === "url" && spec.delegation
        ? {
            id: instance.id,
            name: instance.name,
            endpoint: spec.endpoint,
            delegation: spec.delegation,
          }
        : undefined;
    const exchange =
      spec?.type === "url" && spec.tokenExchange
        ? {
            id: instance.id,
            name: instance.name,
            endpoint: spec.endpoint,
            exchange: spec.tokenExchange,
          }
        : undefined;
    return {
      id: instance.id,
      name: instance.name,
      team: instance.team,
      ...(delegation ? { delegation } : {}),
      ...(exchange ? { exchange } : {}),
    };
  };

  const delegationOf = async (
    instanceId: string,
  ): Promise<InstanceDelegation | InstanceExchange | undefined> =>
    (await specs.get(instanceId, async () => {
      const found = await loadInstance(instanceId);
      return found.delegation ?? found.exchange ?? null;
    })) ?? undefined;

  /**
   * The instance's delegation; with a caller, only if they may use its tools (NOT_FOUND across
   * teams). The callback has no caller: its flow was authorized when it started.
   */
  const requireDelegation = async (
    ref: string,
    principal?: Principal,
  ): Promise<InstanceDelegation> => {
    const found = await loadInstance(ref);
    if (principal) authorize(principal, found.team, MCP_ACCESS.action, "instance", ref);
    if (found.exchange) {
      throw failedPrecondition(
        `instance ${JSON.stringify(found.name)} exchanges each caller's sign-in token per call (json_spec.delegation type token_exchange): no connection is needed`,
      );
    }
    if (!found.delegation) {
      throw failedPrecondition(
        `instance ${JSON.stringify(found.name)} does not declare delegated credentials (json_spec.delegation)`,
      );
    }
    return found.delegation;
  };

  const serverOf = (instance: InstanceDelegation): Promise<UpstreamAuthorization> => {
    const key = `${instance.id} ${JSON.stringify(instance.delegation)} ${instance.endpoint}`;
    const cached = servers.get(key);
    if (cached && cached.until > now()) return cached.value;
    const value = discoverUpstreamAuthorization(
      instance.endpoint,
      instance.delegation,
      options.fetch,
    );
    servers.set(key, { until: now() + 10 * 60_000, value });
    value.catch(() => servers.delete(key));
    return value;
  };

  const unreachableServer = (instance: InstanceDelegation, error: unknown) => {
    logger.warn(
      { instance_id: instance.id, reason: (error as Error).message?.slice(0, 300) },
      "the upstream's authorization server could not be used",
    );
    return new ConnectError(
      `the authorization server of instance ${JSON.stringify(instance.name)}'s upstream could not be used: ${(error as Error).message?.slice(0, 300)}`,
      Code.Unavailable,
      { "retry-after": "5" },
    );
  };

  const getGrant = async <T>(instanceId: string, user: string): Promise<T | undefined> => {
    const { found, grant } = await options.grants
      .getUserGrant({ instanceId, user })
      .catch((error: unknown) => {
        throw fromUpstream(error, "instances", false);
      });
    return found ? (JSON.parse(grant) as T) : undefined;
  };
  const putGrant = (instanceId: string, user: string, grant: StoredGrant | StoredClient) =>
    options.grants
      .putUserGrant({ instanceId, user, grant: JSON.stringify(grant) })
      .catch((error: unknown) => {
        throw fromUpstream(error, "instances", false);
      });

  /**
   * The configured client, or the one registered for this instance (registered now if none).
   * With `secret`, a confidential client's secret too (only to redeem a code or refresh): read
   * from the instances service for this use only, never cached or logged.
   */
  const clientOf = async (
    instance: InstanceDelegation,
    server: UpstreamAuthorization,
    secret = false,
  ): Promise<OAuthClientInformationMixed> => {
    const { clientId, clientSecret } = instance.delegation;
    if (clientId && clientSecret && secret) {
      const opened = await options.grants
        .getDelegationClientSecret({ instanceId: instance.id })
        .catch((error: unknown) => {
          throw fromUpstream(error, "instances", false);
        });
      return { client_id: clientId, client_secret: opened.clientSecret };
    }
    if (clientId) return { client_id: clientId };
    const stored = await getGrant<StoredClient>(instance.id, "");
    if (stored && stored.issuer === server.issuer && stored.redirectUri === callbackUrl())
      return stored.client;
    const client = await registerGatewayClient(server, callbackUrl(), options.fetch);
    await putGrant(instance.id, "", { issuer: server.issuer, redirectUri: callbackUrl(), client });
    logger.info(
      { instance_id: instance.id, issuer: server.issuer },
      "registered as an OAuth client of the upstream",
    );
    return client;
  };

  const toGrant = (issuer: string, clientId: string, issued: OAuthTokens): StoredGrant => ({
    issuer,
    clientId,
    accessToken: issued.access_token,
    ...(issued.refresh_token ? { refreshToken: issued.refresh_token } : {}),
    ...(issued.expires_in !== undefined ? { expiresAt: now() + issued.expires_in * 1000 } : {}),
    ...(issued.scope ? { scope: issued.scope } : {}),
  });

  const notConnected = (instance: InstanceIdentity, why: string) =>
    new McpProxyError(
      403,
      `instance ${JSON.stringify(instance.name)} sends each user's own credential to its upstream, and ${why}: connect your account with \`berth instances connect ${instance.name}\` (or POST ${options.publicUrl()}/v1/instances/${instance.id}:connect and open the authorization_url it returns), then call again`,
    );

  /**
   * Runs a refresh with the grant locked across gateway replicas (a Postgres advisory lock in the
   * gateway's database, held for the transaction): with a rotating refresh token, a second
   * replica refreshing the same grant would present a token already used, which authorization
   * servers answer by revoking the grant. The waiting replica then finds the renewed grant.
   */
  const acrossReplicas = <T>(key: string, work: () => Promise<T>): Promise<T> =>
    options.orm.em
      .fork()
      .transactional(async (em) => {
        await em.execute(`set local lock_timeout = '30s'`);
        await em.execute(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [
          `berth.delegation.refresh ${key}`,
        ]);
        return work();
      })
      .catch((error: unknown) => {
        if (error instanceof McpProxyError) throw error;
        logger.warn(
          { reason: (error as Error).message?.slice(0, 200) },
          "a delegated token refresh could not be serialized",
        );
        throw new McpProxyError(503, "the gateway's database is unavailable", {
          "retry-after": "2",
        });
      });

  const dropGrant = async (instanceId: string, user: string) => {
    tokens.delete(`${instanceId} ${user}`);
    await options.grants.deleteUserGrants({ instanceId, user }).catch(() => undefined);
  };

  /** The caller's current access token, refreshed when it is about to expire. */
  const accessToken = async (
    instance: InstanceDelegation,
    identity: InstanceIdentity,
    user: string,
    /** The token the upstream refused: refreshed even if it has not expired yet. */
    refused?: string,
  ): Promise<string> => {
    const key = `${instance.id} ${user}`;
    const cached = tokens.get(key);
    if (cached && cached.until > now() && cached.token !== refused) return cached.token;
    if (cached && cached.token === refused) tokens.delete(key);
    let pending = refreshing.get(key);
    if (!pending) {
      pending = (async () => {
        let grant = await getGrant<StoredGrant>(instance.id, user);
        if (!grant) {
          throw notConnected(
            identity,
            refused === undefined
              ? "you have not connected yet"
              : "its upstream refused your token and it could not be refreshed",
          );
        }
        const fresh = (g: StoredGrant) =>
          g.accessToken !== refused &&
          (g.expiresAt === undefined || g.expiresAt - options.refreshBeforeMs > now());
        if (!fresh(grant)) {
          grant = await acrossReplicas(key, async () => {
            // Read again under the lock: another replica may have renewed it meanwhile.
            const current = await getGrant<StoredGrant>(instance.id, user);
            if (!current) {
              throw notConnected(
                identity,
                refused === undefined
                  ? "you have not connected yet"
                  : "its upstream refused your token and it could not be refreshed",
              );
            }
            if (fresh(current)) return current;
            if (!current.refreshToken) {
              // A refused token without a way to renew it: the grant is of no further use.
              if (refused !== undefined) await dropGrant(instance.id, user);
              throw notConnected(
                identity,
                refused === undefined
                  ? "your upstream token has expired"
                  : "its upstream refused your token and it could not be refreshed",
              );
            }
            let server: UpstreamAuthorization;
            try {
              server = await serverOf(instance);
            } catch (error) {
              throw new McpProxyError(503, unreachableServer(instance, error).rawMessage, {
                "retry-after": "5",
              });
            }
            // Not reaching the client's registration or secret is an outage, not a refusal: the
            // grant stays.
            const client = await clientOf(instance, server, true).catch((error: unknown) => {
              throw new McpProxyError(503, unreachableServer(instance, error).rawMessage, {
                "retry-after": "5",
              });
            });
            let issued: OAuthTokens;
            try {
              issued = await refreshAuthorization(server.issuer, {
                metadata: server.metadata,
                clientInformation: client,
                refreshToken: current.refreshToken,
                resource: new URL(server.resource),
                fetchFn: options.fetch,
              });
            } catch (error) {
              // Refused (revoked, expired): the grant is gone; the user connects again.
              logger.info(
                { instance_id: instance.id, user, reason: (error as Error).message?.slice(0, 200) },
                "a delegated grant could not be refreshed",
              );
              await dropGrant(instance.id, user);
              throw notConnected(
                identity,
                refused === undefined
                  ? "your upstream grant could not be refreshed"
                  : "its upstream refused your token and it could not be refreshed",
              );
            }
            const renewed = toGrant(current.issuer, current.clientId, {
              refresh_token: current.refreshToken,
              ...issued,
            });
            await putGrant(instance.id, user, renewed);
            logger.info({ instance_id: instance.id, user }, "delegated token refreshed");
            return renewed;
          });
        }
        const until =
          grant.expiresAt === undefined
            ? now() + 60_000
            : grant.expiresAt - options.refreshBeforeMs;
        if (tokens.size >= MAX_CACHED) tokens.clear();
        tokens.set(key, { token: grant.accessToken, until: Math.min(until, now() + 5 * 60_000) });
        return grant.accessToken;
      })().finally(() => refreshing.delete(key));
      refreshing.set(key, pending);
    }
    return pending;
  };

  const dropTokens = (match: (key: string) => boolean) => {
    for (const key of tokens.keys()) if (match(key)) tokens.delete(key);
  };

  return {
    async start(principal, ref) {
      const user = personOf(principal);
      const instance = await requireDelegation(ref, principal);
      let authorizationUrl: URL;
      let codeVerifier: string;
      let clientId: string;
      const state = randomBytes(32).toString("base64url");
      try {
        const server = await serverOf(instance);
        const client = await clientOf(instance, server);
        clientId = client.client_id;
        ({ authorizationUrl, codeVerifier } = await startAuthorization(server.issuer, {
          metadata: server.metadata,
          clientInformation: client,
          redirectUrl: callbackUrl(),
          state,
          resource: new URL(server.resource),
          ...(server.scopes.length > 0 ? { scope: server.scopes.join(" ") } : {}),
        }));
      } catch (error) {
        if (error instanceof ConnectError) throw error;
        throw unreachableServer(instance, error);
      }
      const expireTime = new Date(now() + flowTtlMs);
      const em = options.orm.em.fork();
      await em.execute(`delete from ${FLOWS} where "expire_time" < now()`);
      // One flow per user and instance: starting again replaces the one under way.
      await em.execute(
        `insert into ${FLOWS} ("state_hash", "actor_id", "instance_id", "client_id", "code_verifier", "expire_time")
         values (?, ?, ?, ?, ?, ?)
         on conflict ("actor_id", "instance_id") do update set "state_hash" = excluded."state_hash",
           "client_id" = excluded."client_id", "code_verifier" = excluded."code_verifier",
           "expire_time" = excluded."expire_time"`,
        [hashState(state), user, instance.id, clientId, codeVerifier, expireTime],
      );
      logger.info({ instance_id: instance.id, user }, "delegated credential flow started");
      return { authorizationUrl: authorizationUrl.href, expireTime };
    },

    async status(principal, ref) {
      const user = personOf(principal);
      const found = await loadInstance(ref);
      if (found.exchange && options.exchange) {
        authorize(principal, found.team, MCP_ACCESS.action, "instance", ref);
        const exchanged = options.exchange.status(principal, found.exchange);
        return {
          connected: exchanged.ready,
          scopes: exchanged.scopes,
          issuer: exchanged.issuer,
          ...(exchanged.expireTime ? { expireTime: exchanged.expireTime } : {}),
          delegationType: "token_exchange",
        };
      }
      const instance = await requireDelegation(ref, principal);
      const grant = await getGrant<StoredGrant>(instance.id, user);
      if (!grant) return { connected: false, scopes: [], issuer: "", delegationType: "oauth" };
      return {
        delegationType: "oauth",
        connected: true,
        scopes: grant.scope ? grant.scope.split(" ") : [],
        ...(grant.expiresAt !== undefined ? { expireTime: new Date(grant.expiresAt) } : {}),
        issuer: grant.issuer,
      };
    },

    async disconnect(principal, ref) {
      const user = personOf(principal);
      const instance = await requireDelegation(ref, principal);
      const { deleted } = await options.grants
        .deleteUserGrants({ instanceId: instance.id, user })
        .catch((error: unknown) => {
          throw fromUpstream(error, "instances", false);
        });
      tokens.delete(`${instance.id} ${user}`);
      logger.info({ instance_id: instance.id, user }, "delegated credential disconnected");
      return deleted > 0;
    },

    async complete(query) {
      const state = query.get("state") ?? "";
      if (state === "")
        return {
          status: 400,
          message: "The request has no state: start again with berth instances connect.",
        };
      const rows = (await options.orm.em
        .fork()
        .execute(
          `delete from ${FLOWS} where "state_hash" = ? returning "actor_id", "instance_id", "client_id", "code_verifier", "expire_time"`,
          [hashState(state)],
        )) as Array<{
        actor_id: string;
        instance_id: string;
        client_id: string;
        code_verifier: string;
        expire_time: Date;
      }>;
      const flow = rows[0];
      if (!flow || new Date(flow.expire_time).getTime() < now()) {
        return {
          status: 400,
          message:
            "This sign-in is unknown, used or expired: start again with berth instances connect.",
        };
      }
      const denied = query.get("error");
      if (denied) {
        return {
          status: 400,
          message: `The upstream's authorization server answered ${denied.slice(0, 64)}: nothing was stored.`,
        };
      }
      const code = query.get("code");
      if (!code) return { status: 400, message: "The redirect carries no code: start again." };
      let instance: InstanceDelegation;
      try {
        instance = await requireDelegation(flow.instance_id);
      } catch {
        return { status: 404, message: "The instance is gone or no longer delegates credentials." };
      }
      try {
        const server = await serverOf(instance);
        const client = await clientOf(instance, server, true);
        if (client.client_id !== flow.client_id) {
          return {
            status: 409,
            message: "The gateway's client registration changed meanwhile: start again.",
          };
        }
        const issued = await exchangeAuthorization(server.issuer, {
          metadata: server.metadata,
          clientInformation: client,
          authorizationCode: code,
          codeVerifier: flow.code_verifier,
          redirectUri: callbackUrl(),
          resource: new URL(server.resource),
          fetchFn: options.fetch,
        });
        await putGrant(
          instance.id,
          flow.actor_id,
          toGrant(server.issuer, client.client_id, issued),
        );
        tokens.delete(`${instance.id} ${flow.actor_id}`);
        logger.info(
          { instance_id: instance.id, user: flow.actor_id },
          "delegated credential connected",
        );
        return {
          status: 200,
          message: `Connected to instance ${instance.name}'s upstream. You can close this window.`,
        };
      } catch (error) {
        logger.warn(
          {
            instance_id: instance.id,
            user: flow.actor_id,
            reason: (error as Error).message?.slice(0, 300),
          },
          "a delegated credential flow failed",
        );
        return {
          status: 502,
          message: "The upstream's authorization server refused the code: start again.",
        };
      }
    },

    async endpointFor(principal, instance, endpoint) {
      if (endpoint.driver !== undefined && endpoint.driver !== "url") return endpoint;
      const delegated = await delegationOf(instance.id).catch((error: unknown) => {
        throw error instanceof McpProxyError
          ? error
          : new McpProxyError(503, "the instances service is unavailable", { "retry-after": "1" });
      });
      if (!delegated) return endpoint;
      if ("exchange" in delegated) {
        if (!options.exchange)
          throw new McpProxyError(503, "token exchange is not set up on this gateway");
        const token = await options.exchange.tokenFor(principal, delegated);
        return { ...endpoint, headers: { ...endpoint.headers, authorization: `Bearer ${token}` } };
      }
      if (!principal.user) {
        throw new McpProxyError(
          403,
          `instance ${JSON.stringify(instance.name)} sends each user's own credential to its upstream: sign in as a person (OAuth), an API key has no upstream account`,
        );
      }
      const token = await accessToken(delegated, instance, principal.keyId);
      return { ...endpoint, headers: { ...endpoint.headers, authorization: `Bearer ${token}` } };
    },

    async reauthorize(principal, instance, sent) {
      const delegated = await delegationOf(instance.id).catch(() => undefined);
      if (delegated && "exchange" in delegated && options.exchange) {
        // An exchanged token the upstream refuses (revoked, or its keys rotated): exchange the
        // caller's token once more instead of sending the cached one again.
        options.exchange.forget((id, user) => id === instance.id && user === principal.keyId);
        const token = await options.exchange.tokenFor(principal, delegated);
        return { ...sent, headers: { ...sent.headers, authorization: `Bearer ${token}` } };
      }
      const refused = /^Bearer (.+)$/.exec(sent.headers.authorization ?? "")?.[1];
      if (!delegated || "exchange" in delegated || !principal.user || refused === undefined) {
        throw new McpProxyError(
          502,
          `instance ${JSON.stringify(instance.name)}'s upstream refused the gateway's request (401)`,
        );
      }
      logger.info(
        { instance_id: instance.id, user: principal.keyId },
        "the upstream refused a delegated token",
      );
      const token = await accessToken(delegated, instance, principal.keyId, refused);
      return { ...sent, headers: { ...sent.headers, authorization: `Bearer ${token}` } };
    },

    invalidate(instanceId) {
      specs.delete(instanceId);
      dropTokens((key) => key.startsWith(`${instanceId} `));
      options.exchange?.forget((id) => id === instanceId);
    },

    async userRemoved(actorId) {
      dropTokens((key) => key.endsWith(` ${actorId}`));
      options.exchange?.forget((_, user) => user === actorId);
      await options.orm.em.fork().execute(`delete from ${FLOWS} where "actor_id" = ?`, [actorId]);
      await options.grants.deleteUserGrants({ user: actorId });
    },
  };
}
