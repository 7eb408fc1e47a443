import {
  connectNats,
  createCloser,
  createDatabase,
  createLogger,
  createServiceClient,
  type Logger,
  loadMeshIdentity,
} from "@berth/platform";
import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { ApiKeyEntity } from "./api-keys/api-key-entity.js";
import { createApiKeyStore } from "./api-keys/api-key-store.js";
import { createApiKeysHandlers } from "./api-keys/api-keys-handlers.js";
import { ensureBootstrapKey, type PrintLine, printToStdout } from "./api-keys/bootstrap-key.js";
import { gatewayMigrations } from "./api-keys/migrations.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createAuthInterceptor, createGatekeeper } from "./auth/gatekeeper.js";
import { createRateLimiter } from "./auth/rate-limiter.js";
import type { GatewayConfig } from "./config.js";
import { createCors, parseOrigins } from "./cors.js";
import { createDeadLettersHandlers } from "./dead-letters/dead-letters-handlers.js";
import { edgeErrors } from "./edge-headers.js";
import { createForwardingImpl } from "./forwarding-impl.js";
import { createHealthRoutes } from "./health-routes.js";
import { createOnePortServer, createRestHandler } from "./http/index.js";
import { reportParseErrorsAsInvalid } from "./http/parse-error-status.js";
import type { HttpRequest, HttpResponse } from "./http/types.js";
import { createForwarder } from "./mcp/forward.js";
import { createInvalidationListener, natsAnswers } from "./mcp/instance-events.js";
import { createInstanceResolver } from "./mcp/instance-resolver.js";
import { createMcpProxy } from "./mcp/mcp-proxy.js";
import { createSessionPins } from "./mcp/session-pins.js";
import { observeRequests } from "./observe-request.js";
import { createOpenApiRoutes, loadOpenApi } from "./openapi/openapi-routes.js";

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
}

type Extra = (req: HttpRequest, res: HttpResponse) => boolean;

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
  try {
    const identity = loadMeshIdentity(config);
    const orm = await createDatabase({
      url: config.DATABASE_URL,
      schema: "gateway",
      entities: [ApiKeyEntity],
      migrations: gatewayMigrations,
      logger: log,
      poolMax: 5,
    });
    closer.add("database", () => orm.close());
    const store = createApiKeyStore(orm);
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

    const authenticator = createAuthenticator({
      load: store.get,
      cacheTtlMs: config.API_KEY_CACHE_MS,
    });
    const gatekeeper = createGatekeeper(authenticator, createRateLimiter(), {
      perSecond: config.RATE_LIMIT_PER_SECOND,
      burst: config.RATE_LIMIT_BURST,
    });
    // edgeErrors first: it is the outermost, so every error leaves with its edge headers.
    const interceptors = [edgeErrors, createAuthInterceptor(gatekeeper)];
    const upstreams: Array<{ service: DescService; address: string; label: string }> = [
      { service: RegistryService, address: config.REGISTRY_ADDR, label: "registry" },
      { service: InstancesService, address: config.INSTANCES_ADDR, label: "instances" },
      { service: RuntimeService, address: config.RUNTIME_ADDR, label: "runtime" },
    ];
    const services = [
      ...upstreams.map(({ service, address, label }) => ({
        service,
        impl: createForwardingImpl(
          service,
          createServiceClient(service, address, { identity }),
          label,
        ),
      })),
      {
        service: ApiKeysService as DescService,
        impl: createApiKeysHandlers({
          store,
          onRevoked: (id) => authenticator.forget(id),
          logger: log,
        }),
      },
      {
        service: DeadLettersService as DescService,
        impl: createDeadLettersHandlers({ nc, logger: log }),
      },
    ];

    const resolver = createInstanceResolver({
      instances: createServiceClient(InstancesService, config.INSTANCES_ADDR, { identity }),
      runtime: createServiceClient(RuntimeService, config.RUNTIME_ADDR, { identity }),
      ttlMs: config.MCP_RESOLVE_CACHE_MS,
      logger: log,
    });
    const invalidations = createInvalidationListener(nc, (id) => resolver.invalidate(id), log);
    await invalidations.start();
    closer.add("endpoint cache events", () => invalidations.stop());
    const mcp = createMcpProxy({
      resolver,
      gatekeeper,
      pins: createSessionPins(),
      forwarder: createForwarder({ logger: log, maxBodyBytes: config.MAX_BODY_BYTES }),
      maxBodyBytes: config.MAX_BODY_BYTES,
      logger: log,
    });
    const extras: Extra[] = [
      createCors(parseOrigins(config.CORS_ORIGINS)),
      createHealthRoutes(
        upstreams,
        [
          { name: "nats", check: () => natsAnswers(nc) },
          { name: "database", check: async () => orm.isConnected() },
        ],
        identity,
      ),
      createOpenApiRoutes(loadOpenApi()),
      mcp.handle,
    ];
    const server = createOnePortServer({
      logger: log,
      routes: (router: ConnectRouter) => {
        for (const { service, impl } of services) router.service(service, impl as never);
        reportParseErrorsAsInvalid(router.handlers);
      },
      connect: { interceptors },
      rest: createRestHandler({
        services,
        interceptors,
        logger: log,
        maxBodyBytes: config.MAX_BODY_BYTES,
      }),
      extra: (req, res) => extras.some((extra) => extra(req, res)),
      wrap: (handle) => observeRequests(log, handle),
    });
    const port = await server.listen(config.HTTP_PORT, config.HTTP_HOST);
    closer.add("http server", () => server.close());
    closer.add("mcp streams", () => mcp.close());
    const url = `http://${config.HTTP_HOST}:${port}`;
    log.info({ url }, "gateway listening");
    return { port, url, stop: () => closer.closeAll() };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
