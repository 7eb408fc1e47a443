import { bind, type Logger, openServiceBackbone, serveGrpc } from "@berth/platform";
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
  /** The port of its /metrics listener, when METRICS_PORT is set. */
  metricsPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the registry: its schema and migrations, the outbox relay to JetStream, the consumer of
 * instance events (which entries are in use), the starter catalog when the catalog is empty, and
 * the gRPC API. On a failed start everything already opened is closed again.
 */
export async function startRegistry(config: RegistryConfig, logger?: Logger): Promise<Registry> {
  const backbone = await openServiceBackbone({
    service: "registry",
    config,
    logger,
    schema: "registry",
    entities: [ServerEntity, UsageEntity],
    migrations: registryMigrations,
    withInbox: true,
  });
  const { log, orm, nc, relay, closer } = backbone;
  try {
    const usage = createUsageConsumer({ nc, orm, logger: log });
    await usage.start();
    closer.add("instance events consumer", () => usage.stop());
    if (config.REGISTRY_LOAD_CATALOG) {
      if ((await loadStarterCatalog(orm, config.REGISTRY_CATALOG_DIR, log)) > 0) relay.kick();
    }
    const handlers = createRegistryHandlers({ orm, kickOutbox: () => relay.kick(), logger: log });
    const port = await serveGrpc(backbone, [bind(RegistryService, handlers)], config.GRPC_PORT);
    return { port, metricsPort: backbone.metricsPort, stop: () => closer.closeAll() };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
