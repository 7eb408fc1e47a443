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
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { RegistryConfig } from "./config.js";
import { registryMigrations } from "./db/migrations.js";
import { ServerEntity } from "./db/server-entity.js";
import { UsageEntity } from "./db/usage-entity.js";
import { createRegistryHandlers } from "./registry-handlers.js";
import { loadStarterCatalog } from "./starter-catalog.js";
import { createUsageConsumer } from "./usage-consumer.js";

/** A running registry. */
export interface Registry {
  /** The bound gRPC port. */
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the registry: its schema and migrations, the outbox relay to JetStream, the consumer of
 * instance events (which entries are in use), the starter catalog when the catalog is empty, and
 * the gRPC API. On a failed start everything already opened is closed again.
 */
export async function startRegistry(config: RegistryConfig, logger?: Logger): Promise<Registry> {
  const log = logger ?? createLogger({ service: "registry", level: config.LOG_LEVEL });
  const closer = createCloser((name, error) => log.warn({ err: error }, `closing ${name} failed`));
  try {
    const orm = await createDatabase({
      url: config.DATABASE_URL,
      schema: "registry",
      entities: [ServerEntity, UsageEntity],
      migrations: registryMigrations,
      logger: log,
      withOutbox: true,
      withInbox: true,
    });
    closer.add("database", () => orm.close());
    const nc = await connectNats(config.NATS_URL, "registry");
    closer.add("nats", () => nc.drain());
    await ensureStreams(nc);
    const relay = createOutboxRelay({ orm, nc, logger: log });
    relay.start();
    closer.add("outbox relay", () => relay.stop());
    const usage = createUsageConsumer({ nc, orm, logger: log });
    await usage.start();
    closer.add("instance events consumer", () => usage.stop());
    if (config.REGISTRY_LOAD_CATALOG) {
      if ((await loadStarterCatalog(orm, config.REGISTRY_CATALOG_DIR, log)) > 0) relay.kick();
    }
    const server = createGrpcServer({
      services: [
        bind(
          RegistryService,
          createRegistryHandlers({ orm, kickOutbox: () => relay.kick(), logger: log }),
        ),
      ],
      logger: log,
    });
    const port = await server.listen(config.GRPC_PORT);
    closer.add("grpc server", () => server.shutdown());
    server.setServing(true);
    log.info({ port }, "registry listening");
    return { port, stop: () => closer.closeAll() };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
