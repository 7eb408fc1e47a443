import { loadConsoleBundle } from "@berth/console";
import {
  connectNats,
  createCloser,
  createDatabase,
  createLogger,
  createServiceClient,
  type Logger,
  loadMeshIdentity,
  startMetricsServer,
} from "@berth/platform";
import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { DelegationService } from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
import { TeamsService } from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import { UsersService } from "@berth/proto/gen/berth/gateway/v1/users_pb";
import { VirtualServersService } from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import {
  InstancesService,
  UserGrantsService,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { createGuardedLookup, DEFAULT_TEAM } from "@berth/spec";
import type { DescService } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { ApiKeyEntity } from "./api-keys/api-key-entity.js";
import { createApiKeyStore } from "./api-keys/api-key-store.js";
import { createApiKeysHandlers } from "./api-keys/api-keys-handlers.js";
import { ensureBootstrapKey, type PrintLine, printToStdout } from "./api-keys/bootstrap-key.js";
import { instanceIdOf, instanceNamed } from "./api-keys/instance-binding.js";
import { gatewayMigrations } from "./api-keys/migrations.js";
import { argumentsDigest, type McpCallFacts, startAuditTrail } from "./audit/index.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { clientContextValues } from "./auth/client-address.js";
import { createAuthInterceptor, createGatekeeper } from "./auth/gatekeeper.js";
import { createRateLimiter } from "./auth/rate-limiter.js";
import { createStreamLimiter } from "./auth/stream-limiter.js";
import type { GatewayConfig } from "./config.js";
import { createConsoleRoutes } from "./console/console-routes.js";
import { createCors, parseOrigins } from "./cors.js";
import { createDeadLettersHandlers } from "./dead-letters/dead-letters-handlers.js";
import {
  createDelegatedCredentials,
  DELEGATION_CALLBACK_PATH,
} from "./delegation/delegated-credentials.js";
import { createDelegationCallback } from "./delegation/delegation-callback.js";
import { createDelegationHandlers } from "./delegation/delegation-handlers.js";
import { createGuardedFetch } from "./delegation/guarded-fetch.js";
import { createTokenExchanger } from "./delegation/token-exchange.js";
import { edgeErrors } from "./edge-headers.js";
import { createForwardingImpl } from "./forwarding-impl.js";
import { createFrontDoor } from "./front-door.js";
import { createHealthRoutes } from "./health-routes.js";
import { createOnePortServer, createRestHandler, createRpcHandler } from "./http/index.js";
import { createActivityReporter } from "./mcp/activity-reporter.js";
import { createCircuitBreakers } from "./mcp/circuit-breaker.js";
import { createCircuitReporter } from "./mcp/circuit-breaker-events.js";
import { withCircuitBreaker } from "./mcp/circuit-breaker-forwarder.js";
import { createForwarder } from "./mcp/forward.js";
import { createInvalidationListener, natsAnswers } from "./mcp/instance-events.js";
import { createInstanceResolver } from "./mcp/instance-resolver.js";
import { createMcpProxy } from "./mcp/mcp-proxy.js";
import { createOriginGuard, isLoopbackAddress } from "./mcp/origin-guard.js";
import { createSessionPins } from "./mcp/session-pins.js";
import { createGatewayMetrics } from "./metrics/gateway-metrics.js";
import { createOAuth } from "./oauth/oauth-setup.js";
import { observeRequests } from "./observe-request.js";
import { createOpenApiRoutes, loadOpenApi } from "./openapi/openapi-routes.js";
import { createRevocationFeed, type RevokedKind } from "./replicas/revocation-feed.js";
import { createSharedRateLimiter, deploymentOf } from "./replicas/shared-rate-limiter.js";
import { guardInstances, guardRuntime, type InstanceReader } from "./teams/instance-guard.js";
import { createMembershipCache } from "./teams/membership-cache.js";
import { createTeamStore } from "./teams/team-store.js";
import { createTeamsHandlers } from "./teams/teams-handlers.js";
import { fromUpstream } from "./upstream-error.js";
import { UserEntity } from "./users/user-entity.js";
import { createUserStore } from "./users/user-store.js";
import { createUsersHandlers } from "./users/users-handlers.js";
import { createVirtualMcp, type VirtualMcp } from "./virtual-servers/virtual-mcp.js";
import { VirtualServerEntity } from "./virtual-servers/virtual-server-entity.js";
import { createVirtualServerStore } from "./virtual-servers/virtual-server-store.js";
import { createVirtualServersHandlers } from "./virtual-servers/virtual-servers-handlers.js";
import type { VirtualCallEvent } from "./virtual-servers/virtual-session.js";

/** A running gateway. */
export interface Gateway {
  /** The bound HTTP port. */
  port: number;
  /** Base URL clients point at. */
  url: string;
  stop(): Promise<void>;
}

/** Options of startGateway beyond its configuration. */
export interface GatewayOptions {
  /** Where the bootstrap key line goes (standard output by default). */
  print?: PrintLine;
  /** Every MCP call through a virtual server (the audit trail and metrics hook in here). */
  onVirtualCall?: (event: VirtualCallEvent) => void;
}

/**
 * Starts the gateway: API keys in its own schema (a bootstrap admin key on first start), one port
 * serving REST/JSON (transcoded from google.api.http), Connect, gRPC-Web and gRPC behind API-key
 * authentication, scopes and rate limits, forwarding every public method to its service, and the
 * MCP proxy at /mcp/{instance}.
 */
export async function startGateway(
  config: GatewayConfig,
  logger?: Logger,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const log = logger ?? createLogger({ service: "gateway", level: config.LOG_LEVEL });
  const closer = createCloser((name, error) => log.warn({ err: error }, `closing ${name} failed`));
  // Aborts RPCs still running when the server stops waiting for them.
  const shutdown = new AbortController();
  try {
    const identity = loadMeshIdentity(config);
    const orm = await createDatabase({
      url: config.DATABASE_URL,
      schema: "gateway",
      entities: [ApiKeyEntity, VirtualServerEntity, UserEntity],
      migrations: gatewayMigrations,
      logger: log,
      poolMax: 5,
      // The audit trail's change consumer applies each event once.
      withInbox: true,
    });
    closer.add("database", () => orm.close());
    const store = createApiKeyStore(orm);
    // Created with the MCP proxy below; virtual server changes reach its sessions through it.
    let virtualMcp: VirtualMcp | undefined;
    const virtualServerStore = createVirtualServerStore(orm);
    await ensureBootstrapKey(
      store,
      config.BERTH_BOOTSTRAP_API_KEY,
      options.print ?? printToStdout,
      log,
    );
    const nc = await connectNats(config.NATS_URL, "gateway", "NATS_URL", {
      user: config.NATS_USER,
      pass: config.NATS_PASSWORD,
    });
    closer.add("nats", () => nc.drain());

    const keys = createAuthenticator({
      load: store.get,
      cacheTtlMs: config.API_KEY_CACHE_MS,
    });
    // Revocations made on any replica (a key revoked, a user removed, a membership changed)
    // reach this one's caches within moments; forget() is set once those caches exist.
    let forget: (kind: RevokedKind, id: string) => void = (_kind, id) => keys.forget(id);
    const revocations = createRevocationFeed({
      nc,
      logger: log,
      replicas: config.NATS_STREAM_REPLICAS,
      onRevoked: (kind, id) => forget(kind, id),
    });
    revocations.start();
    closer.add("revocation feed", () => revocations.stop());
    // Rate limits hold across every gateway replica (a JetStream KV bucket); each replica's own
    // buckets decide while NATS is away.
    const sharedLimiter = (scope: string) => {
      const limiter = createSharedRateLimiter({
        nc,
        logger: log,
        replicas: config.NATS_STREAM_REPLICAS,
        scope,
        deployment: deploymentOf(config.DATABASE_URL),
        local: createRateLimiter(),
        timeoutMs: config.RATE_LIMIT_STORE_TIMEOUT_MS,
      });
      closer.add(`${scope} rate limits`, async () => limiter.stop());
      return limiter;
    };
    // OAuth 2.1 resource server beside the API keys, and the embedded authorization server.
    const userStore = createUserStore(orm);
    const teamStore = createTeamStore(orm);
    const memberships = createMembershipCache(teamStore.membershipsOf, config.API_KEY_CACHE_MS);
    const oauth = createOAuth({
      config,
      orm,
      users: userStore,
      memberships: memberships.of,
      logger: log,
    });
    closer.add("oauth", async () => oauth.close());
    forget = (kind, id) => {
      if (kind === "key") return keys.forget(id);
      // A removed user's tokens and a changed membership's role: refused or narrowed on the
      // next request, on every replica, including within an open MCP session.
      if (kind === "user") oauth.userRemoved(id);
      memberships.forget(id);
    };
    const authenticator = oauth.authenticator(keys);
    const gatekeeper = oauth.withChallenges(
      createGatekeeper(
        authenticator,
        sharedLimiter("key"),
        { perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST },
        {
          limiter: sharedLimiter("address"),
          perSecond: config.AUTH_FAILURES_PER_MINUTE / 60,
          burst: config.AUTH_FAILURE_BURST,
        },
      ),
    );
    const pins = createSessionPins();
    const audit = await startAuditTrail({
      orm,
      nc,
      logger: log,
      retentionDays: config.BERTH_AUDIT_RETENTION_DAYS,
      retentionIntervalMs: config.BERTH_AUDIT_RETENTION_INTERVAL_MS,
      onDropped: (count) => gatewayMetrics.auditDropped(count),
      virtualServerName: async (id) => (await virtualServerStore.find(id))?.name,
    });
    closer.add("audit trail", () => audit.stop());
    const gatewayMetrics = createGatewayMetrics({
      nc,
      gatekeeper,
      logger: log,
      sessions: () => pins.openByInstance(),
      auditBuffered: () => audit.recorder.buffered(),
    });
    if (config.METRICS_PORT !== undefined) {
      const metricsServer = await startMetricsServer({
        metrics: gatewayMetrics.metrics,
        port: config.METRICS_PORT,
        host: config.METRICS_HOST,
        logger: log,
      });
      closer.add("metrics server", () => metricsServer.close());
    }
    // What every MCP path reports of each call: the metrics and the audit trail.
    const onMcpCall = (call: McpCallFacts) => {
      gatewayMetrics.observeMcpCall(call);
      audit.recordMcpCall(call);
    };
    const instancesClient = createServiceClient(InstancesService, config.INSTANCES_ADDR, {
      identity,
    });
    // Delegated upstream credentials: each person's own grant to a url instance's upstream.
    const upstreamFetch = createGuardedFetch({
      allowLoopback: config.BERTH_ALLOW_LOOPBACK_ENDPOINTS,
      allowPrivate: config.BERTH_ALLOW_PRIVATE_ENDPOINTS,
    });
    closer.add("upstream authorization fetch", () => upstreamFetch.close());
    const delegated = createDelegatedCredentials({
      instances: instancesClient,
      grants: createServiceClient(UserGrantsService, config.INSTANCES_ADDR, { identity }),
      orm,
      publicUrl: () => oauth.publicUrl(),
      fetch: upstreamFetch.fetch,
      refreshBeforeMs: config.BERTH_DELEGATION_REFRESH_SECONDS * 1000,
      specTtlMs: Math.max(config.MCP_RESOLVE_CACHE_MS, 1_000),
      logger: log,
      // json_spec.delegation type token_exchange: each caller's token exchanged at its issuer.
      exchange: createTokenExchanger({
        clientFor: (issuer) => oauth.tokenExchangeClient(issuer),
        renewBeforeMs: config.BERTH_DELEGATION_REFRESH_SECONDS * 1000,
        logger: log,
      }),
    });
    // edgeErrors first: it is the outermost, so every error leaves with its edge headers.
    const interceptors = [
      edgeErrors,
      createAuthInterceptor(gatekeeper, createStreamLimiter(config.WATCH_STREAMS_PER_KEY)),
    ];
    const upstreams: Array<{ service: DescService; address: string; label: string }> = [
      { service: RegistryService, address: config.REGISTRY_ADDR, label: "registry" },
      { service: InstancesService, address: config.INSTANCES_ADDR, label: "instances" },
      { service: RuntimeService, address: config.RUNTIME_ADDR, label: "runtime" },
    ];
    // The instance a request names, read before the team check of the access table.
    const readInstance: InstanceReader = async (ref, ctx) => {
      try {
        const { instance } = await instancesClient.getInstance(
          { id: ref },
          { signal: ctx.signal, timeoutMs: 10_000 },
        );
        if (!instance) throw new Error("GetInstance answered no instance");
        // No team (an instances service from before teams): the default team's, as every
        // instance made before teams is.
        if (!instance.team) instance.team = DEFAULT_TEAM;
        return instance;
      } catch (error) {
        throw fromUpstream(error, "instances", ctx.signal.aborted);
      }
    };
    // Each forwarded service behind the team checks its methods need.
    const teamGuards = new Map<DescService, (impl: object) => object>([
      [InstancesService, (impl) => guardInstances(impl, readInstance)],
      [RuntimeService, (impl) => guardRuntime(impl, readInstance)],
    ]);
    const services = [
      ...upstreams.map(({ service, address, label }) => {
        const forwarded = createForwardingImpl(
          service,
          createServiceClient(service, address, { identity }),
          label,
        );
        return { service, impl: teamGuards.get(service)?.(forwarded) ?? forwarded };
      }),
      {
        service: ApiKeysService as DescService,
        impl: createApiKeysHandlers({
          store,
          onRevoked: (id) => {
            keys.forget(id);
            revocations.announce("key", id);
          },
          resolveInstance: (ref) => instanceIdOf(instancesClient, ref),
          resolveVirtualServer: async (ref) => (await virtualServerStore.find(ref))?.id,
          logger: log,
        }),
      },
      {
        service: VirtualServersService as DescService,
        impl: createVirtualServersHandlers({
          store: virtualServerStore,
          resolveInstance: (ref) => instanceNamed(instancesClient, ref),
          onChanged: (id) => virtualMcp?.changed(id),
          logger: log,
        }),
      },
      {
        service: UsersService as DescService,
        impl: createUsersHandlers({
          store: userStore,
          teams: teamStore,
          orm,
          onDeleted: (id) => {
            oauth.userRemoved(id);
            const actor = oauth.embeddedActorOf(id);
            if (actor) {
              delegated
                .userRemoved(actor)
                .catch((error: unknown) =>
                  log.warn(
                    { err: error, user_id: id },
                    "deleting the user's delegated grants failed",
                  ),
                );
            }
            memberships.forget(id);
            revocations.announce("user", id);
          },
          logger: log,
        }),
      },
      {
        service: TeamsService as DescService,
        impl: createTeamsHandlers({
          store: teamStore,
          users: userStore,
          orm,
          hasInstances: async (team) =>
            (await instancesClient.listInstances({ teams: [team], pageSize: 1 })).instances.length >
            0,
          onMembershipChanged: (id) => {
            memberships.forget(id);
            revocations.announce("membership", id);
          },
          logger: log,
        }),
      },
      {
        service: DelegationService as DescService,
        impl: createDelegationHandlers({
          credentials: delegated,
          whoami: (header) => authenticator.authenticate(header),
        }),
      },
      {
        service: DeadLettersService as DescService,
        impl: createDeadLettersHandlers({ nc, logger: log }),
      },
      audit.service,
    ];

    const health = createHealthRoutes(
      upstreams,
      [
        { name: "nats", check: () => natsAnswers(nc) },
        { name: "database", check: async () => orm.isConnected() },
      ],
      identity,
    );
    const openapi = createOpenApiRoutes(loadOpenApi());
    // The web console and /docs, built by `npm start`/`npm test` (bootstrap); 503 until built.
    const ui = createConsoleRoutes(loadConsoleBundle());
    const runtimeClient = createServiceClient(RuntimeService, config.RUNTIME_ADDR, { identity });
    const resolver = createInstanceResolver({
      instances: instancesClient,
      runtime: runtimeClient,
      ttlMs: config.MCP_RESOLVE_CACHE_MS,
      logger: log,
      wakeTimeoutMs: config.MCP_WAKE_TIMEOUT_MS,
      onWake: gatewayMetrics.wakeWaited,
    });
    // The idle policy's clock: which instances this gateway sees MCP traffic for.
    const activity = createActivityReporter({
      intervalMs: config.MCP_ACTIVITY_INTERVAL_MS,
      logger: log,
      send: async (items) => {
        await runtimeClient.reportActivity(
          {
            activity: items.map((item) => ({
              instanceId: item.instanceId,
              openStreams: item.openStreams,
              ...(item.lastRequestAt > 0
                ? { lastRequestTime: timestampFromDate(new Date(item.lastRequestAt)) }
                : {}),
            })),
          },
          { timeoutMs: 5_000 },
        );
      },
    });
    closer.add("activity reports", async () => activity.stop());
    const invalidations = createInvalidationListener(
      nc,
      (id) => {
        resolver.invalidate(id);
        delegated.invalidate(id);
      },
      log,
    );
    await invalidations.start();
    closer.add("endpoint cache events", () => invalidations.stop());
    const circuits = createCircuitReporter(nc, log);
    closer.add("circuit reports", async () => circuits.stop());
    const lookup = createGuardedLookup({
      allowLoopback: config.BERTH_ALLOW_LOOPBACK_ENDPOINTS,
      allowPrivate: config.BERTH_ALLOW_PRIVATE_ENDPOINTS,
    });
    const guard = createOriginGuard({
      allowedOrigins: [
        ...parseOrigins(config.MCP_ALLOWED_ORIGINS),
        ...parseOrigins(config.CORS_ORIGINS).filter((origin) => origin !== "*"),
      ],
      allowedHosts: parseOrigins(config.MCP_ALLOWED_HOSTS),
      loopbackOnly: isLoopbackAddress(config.HTTP_HOST),
    });
    const mcp = createMcpProxy({
      resolver,
      gatekeeper,
      pins,
      forwarder: withCircuitBreaker(
        createForwarder({
          logger: log,
          maxBodyBytes: config.MAX_BODY_BYTES,
          lookup,
          bridgeChannel: config.MCP_BRIDGE_CHANNEL,
        }),
        createCircuitBreakers({
          failureThreshold: config.MCP_BREAKER_FAILURES,
          openMs: config.MCP_BREAKER_OPEN_MS,
          maxOpenMs: config.MCP_BREAKER_MAX_OPEN_MS,
          onChange: (id, snapshot) => circuits.report(id, snapshot),
        }),
        log,
      ),
      guard,
      maxSessionsPerKey: config.MCP_SESSIONS_PER_KEY,
      maxSessionsPerInstance: config.MCP_SESSIONS_PER_INSTANCE,
      maxBodyBytes: config.MAX_BODY_BYTES,
      logger: log,
      onCall: onMcpCall,
      activity,
      credentials: delegated.endpointFor,
      reauthorize: delegated.reauthorize,
    });
    virtualMcp = createVirtualMcp({
      store: virtualServerStore,
      resolver,
      gatekeeper,
      guard,
      instanceSessionsOfKey: (keyId) => pins.countForKey(keyId),
      maxSessionsPerKey: config.MCP_SESSIONS_PER_KEY,
      maxSessionsPerVirtualServer: config.MCP_SESSIONS_PER_INSTANCE,
      maxBodyBytes: config.MAX_BODY_BYTES,
      lookup,
      onCall: (call) => {
        onMcpCall({
          keyId: call.keyId,
          instanceId: call.instanceId,
          instanceName: call.instanceName,
          // The name, as for instances and in the audit filter; fixed for the server's lifetime.
          virtualServer: call.virtualServerName,
          method: call.method,
          tool: call.tool,
          argumentsDigest:
            call.arguments === undefined ? undefined : argumentsDigest(call.arguments),
          durationMs: call.durationMs,
          outcome: call.outcome === "unavailable" ? "failed" : call.outcome,
          errorCode: call.errorCode === undefined ? undefined : String(call.errorCode),
        });
        options.onVirtualCall?.(call);
      },
      touch: (instanceId) => activity.touch(instanceId),
      credentials: delegated.endpointFor,
      reauthorize: delegated.reauthorize,
      logger: log,
    });
    const rpc = createRpcHandler({
      routes: (router: ConnectRouter) => {
        for (const { service, impl } of services) router.service(service, impl as never);
      },
      interceptors,
      shutdownSignal: shutdown.signal,
      readMaxBytes: config.MAX_BODY_BYTES,
      contextValues: clientContextValues,
      logger: log,
    });
    const rest = createRestHandler({
      services,
      interceptors,
      contextValues: clientContextValues,
      logger: log,
      maxBodyBytes: config.MAX_BODY_BYTES,
    });
    // The front door: every request goes to the first row that takes it, top to bottom.
    const frontDoor = createFrontDoor({
      edge: createCors(parseOrigins(config.CORS_ORIGINS)),
      routes: [
        { name: "health", methods: ["GET"], paths: ["/healthz", "/readyz"], handle: health },
        { name: "openapi", methods: ["GET"], paths: ["/openapi.json"], handle: openapi },
        // The web console and the API reference page (/docs), one Vite build.
        {
          name: "console",
          methods: ["GET", "HEAD"],
          paths: ["/ui", "/docs"],
          prefixes: ["/ui/"],
          handle: ui,
        },
        // OAuth: protected resource metadata (RFC 9728) and the embedded authorization server.
        ...oauth.routes,
        {
          name: "delegation-callback",
          methods: ["GET"],
          paths: [DELEGATION_CALLBACK_PATH],
          handle: createDelegationCallback(delegated),
        },
        { name: "mcp-virtual", prefixes: ["/mcp/v/"], handle: virtualMcp.handle },
        { name: "metrics", methods: ["GET"], paths: ["/metrics"], handle: gatewayMetrics.route },
        { name: "mcp", paths: ["/mcp"], prefixes: ["/mcp/"], handle: mcp.handle },
        { name: "rest", prefixes: ["/v1/"], handle: rest },
        // Connect, gRPC-Web and gRPC: POST /<package.Service>/<Method> of a registered service.
        { name: "rpc", serves: rpc.serves, handle: rpc.handle },
      ],
      // Google-style JSON 404 (or 405) for anything else.
      fallback: rest,
      logger: log,
    });
    const server = createOnePortServer({
      handle: observeRequests(log, frontDoor),
      onForceClose: () => shutdown.abort(),
      limits: {
        headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
        keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        http2IdleTimeoutMs: config.HTTP2_IDLE_TIMEOUT_MS,
        maxConnections: config.MAX_CONNECTIONS,
      },
      logger: log,
    });
    const port = await server.listen(config.HTTP_PORT, config.HTTP_HOST);
    closer.add("http server", () => server.close());
    await oauth.listening(port);
    closer.add("mcp streams", () => mcp.close());
    closer.add("virtual mcp sessions", () => virtualMcp?.close());
    const url = `http://${config.HTTP_HOST}:${port}`;
    log.info({ url }, "gateway listening");
    return { port, url, stop: () => closer.closeAll() };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
