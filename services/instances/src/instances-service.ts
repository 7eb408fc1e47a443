import {
  bind,
  createChangeFeed,
  type Logger,
  openServiceBackbone,
  serveGrpc,
} from "@berth/platform";
import {
  InstanceSecretsService,
  InstancesService,
  UserGrantsService,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { InstancesConfig } from "./config.js";
import { InstanceEntity } from "./db/instance-entity.js";
import { INSTANCE_CHANGES_CHANNEL, instancesMigrations } from "./db/migrations.js";
import { SecretEntity } from "./db/secret-entity.js";
import { UserGrantEntity } from "./db/user-grant-entity.js";
import { createInstancesHandlers } from "./handlers/instances-handlers.js";
import { createSecretsHandlers } from "./handlers/secrets-handler.js";
import { createUserGrantsHandlers } from "./handlers/user-grants-handler.js";
import { instanceFromRow } from "./instance-mapper.js";
import { rewrapSecrets } from "./secrets/rewrap.js";
import { createSecretStore } from "./secrets/secret-store.js";
import { createServerLookup } from "./server-lookup.js";
import { createStatusConsumer } from "./status/status-consumer.js";
import { createUpstreamConsumer } from "./status/upstream-consumer.js";
import { createWatchHub } from "./watch-hub.js";

/** A running instances service. */
export interface Instances {
  /** The bound gRPC port. */
  port: number;
  /** The port of its /metrics listener, when METRICS_PORT is set. */
  metricsPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the instances service: its schema, secrets re-sealed under the active key, the outbox
 * relay, the consumer of the runtime's status reports, and the gRPC API (InstancesService and
 * the internal InstanceSecretsService). On a failed start everything opened is closed again.
 */
export async function startInstances(config: InstancesConfig, logger?: Logger): Promise<Instances> {
  const backbone = await openServiceBackbone({
    service: "instances",
    config,
    logger,
    schema: "instances",
    entities: [InstanceEntity, SecretEntity, UserGrantEntity],
    migrations: instancesMigrations,
    withInbox: true,
  });
  const { log, orm, nc, relay, closer } = backbone;
  try {
    const ring = config.BERTH_SECRET_KEYS;
    const secrets = createSecretStore(ring);
    await rewrapSecrets(orm, ring, log);
    const hub = createWatchHub({
      load: async (ids) =>
        (await orm.em.fork().find(InstanceEntity, { id: { $in: ids } })).map(instanceFromRow),
      logger: log,
    });
    // Watch streams on every replica are fed from the database's change notifications.
    const feed = createChangeFeed({
      url: config.DATABASE_URL,
      channel: INSTANCE_CHANGES_CHANNEL,
      logger: log,
      onNotify: (payload) => hub.notified(payload),
      onGap: () => hub.gap(),
    });
    await feed.start();
    closer.add("instance change feed", () => feed.stop());
    const consumer = createStatusConsumer({ nc, orm, logger: log });
    await consumer.start();
    closer.add("status consumer", () => consumer.stop());
    const upstreams = createUpstreamConsumer({ nc, orm, logger: log });
    await upstreams.start();
    closer.add("upstream consumer", () => upstreams.stop());
    const deps = {
      orm,
      kickOutbox: () => relay.kick(),
      logger: log,
      lookup: createServerLookup(config.REGISTRY_ADDR, backbone.identity),
      secrets,
      hub,
      policy: {
        allowLoopback: config.BERTH_ALLOW_LOOPBACK_ENDPOINTS,
        allowPrivate: config.BERTH_ALLOW_PRIVATE_ENDPOINTS,
        allowedImages: config.BERTH_ALLOWED_IMAGES,
        allowRootUser: config.BERTH_ALLOW_ROOT_USER,
      },
    };
    // Open watch streams end within the grace period: their signals abort on shutdown.
    const services = [
      bind(InstancesService, createInstancesHandlers(deps)),
      bind(
        InstanceSecretsService,
        createSecretsHandlers({
          orm,
          secrets,
          logger: log,
        }),
      ),
      bind(UserGrantsService, createUserGrantsHandlers({ orm, ring, logger: log })),
    ];
    const port = await serveGrpc(backbone, services, config.GRPC_PORT, 2_000);
    return { port, metricsPort: backbone.metricsPort, stop: () => closer.closeAll() };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
