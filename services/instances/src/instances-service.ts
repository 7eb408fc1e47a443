import {
  bind,
  connectNats,
  createCloser,
  createDatabase,
  createGrpcServer,
  createLogger,
  createOutboxRelay,
  ensureStreams,
  type Logger,
} from "@berth/platform";
import {
  InstanceSecretsService,
  InstancesService,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { InstancesConfig } from "./config.js";
import { InstanceEntity } from "./db/instance-entity.js";
import { instancesMigrations } from "./db/migrations.js";
import { SecretEntity } from "./db/secret-entity.js";
import { createInstancesHandlers } from "./handlers/instances-handlers.js";
import { createSecretsHandlers } from "./handlers/secrets-handler.js";
import { rewrapSecrets } from "./secrets/rewrap.js";
import { createSecretStore } from "./secrets/secret-store.js";
import { createServerLookup } from "./server-lookup.js";
import { createStatusConsumer } from "./status/status-consumer.js";
import { createWatchHub } from "./watch-hub.js";

/** A running instances service. */
export interface Instances {
  /** The bound gRPC port. */
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the instances service: its schema, secrets re-sealed under the active key, the outbox
 * relay, the consumer of the runtime's status reports, and the gRPC API (InstancesService and
 * the internal InstanceSecretsService). On a failed start everything opened is closed again.
 */
export async function startInstances(config: InstancesConfig, logger?: Logger): Promise<Instances> {
  const log = logger ?? createLogger({ service: "instances", level: config.LOG_LEVEL });
  const closer = createCloser((name, error) => log.warn({ err: error }, `closing ${name} failed`));
  try {
    const orm = await createDatabase({
      url: config.DATABASE_URL,
      schema: "instances",
      entities: [InstanceEntity, SecretEntity],
      migrations: instancesMigrations,
      logger: log,
      withOutbox: true,
      withInbox: true,
    });
    closer.add("database", () => orm.close());
    const ring = config.BERTH_SECRET_KEYS;
    const secrets = createSecretStore(ring);
    await rewrapSecrets(orm, ring, log);
    const nc = await connectNats(config.NATS_URL, "instances");
    closer.add("nats", () => nc.drain());
    await ensureStreams(nc);
    const relay = createOutboxRelay({ orm, nc, logger: log });
    relay.start();
    closer.add("outbox relay", () => relay.stop());
    const hub = createWatchHub();
    const consumer = createStatusConsumer({ nc, orm, hub, logger: log });
    await consumer.start();
    closer.add("status consumer", () => consumer.stop());
    const deps = {
      orm,
      kickOutbox: () => relay.kick(),
      logger: log,
      lookup: createServerLookup(config.REGISTRY_ADDR),
      secrets,
      hub,
      policy: {
        allowLoopback: config.BERTH_ALLOW_LOOPBACK_ENDPOINTS,
        allowPrivate: config.BERTH_ALLOW_PRIVATE_ENDPOINTS,
      },
    };
    const server = createGrpcServer({
      services: [
        bind(InstancesService, createInstancesHandlers(deps)),
        bind(
          InstanceSecretsService,
          createSecretsHandlers({
            orm,
            secrets,
            runtimeToken: config.BERTH_RUNTIME_TOKEN,
            logger: log,
          }),
        ),
      ],
      logger: log,
    });
    const port = await server.listen(config.GRPC_PORT);
    // Open watch streams end within the grace period: their signals abort on shutdown.
    closer.add("grpc server", () => server.shutdown(2_000));
    server.setServing(true);
    log.info({ port }, "instances listening");
    return { port, stop: () => closer.closeAll() };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
