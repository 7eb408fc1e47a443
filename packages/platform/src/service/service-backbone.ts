import type { EntitySchema, MigrationObject } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { createDatabase } from "../db/create-database.js";
import { serveDeadLetterReplays } from "../events/dead-letter-replay.js";
import { connectNats } from "../events/nats.js";
import { createOutboxRelay, type OutboxRelay } from "../events/outbox-relay.js";
import { ensureStreams } from "../events/streams.js";
import { createGrpcServer, type ServiceBinding } from "../grpc/grpc-server.js";
import {
  loadMeshIdentity,
  type MeshIdentity,
  type MeshIdentityConfig,
} from "../grpc/mesh-identity.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { startMetricsServer } from "../metrics/metrics-server.js";
import { createServiceMetrics, type ServiceMetrics } from "../metrics/service-metrics.js";
import { type Closer, createCloser } from "./closer.js";

/** What every stateful Berth service stands on, opened in order and closed in reverse. */
export interface ServiceBackbone {
  log: Logger;
  orm: MikroORM;
  nc: NatsConnection;
  /** The service's certificate on the mesh: its gRPC server and its clients use it. */
  identity: MeshIdentity;
  /** Publishes what the service records in its outbox; kick() after a commit. */
  relay: OutboxRelay;
  /** Everything opened so far; add to it, and closeAll() stops the service. */
  closer: Closer;
  /** The service's metrics registry (process defaults and its consumers' lag are in already). */
  metrics: ServiceMetrics;
  /** The port of its /metrics listener, when METRICS_PORT is set. */
  metricsPort: number | undefined;
}

/** Options of openServiceBackbone. */
export interface ServiceBackboneOptions {
  /** The service's name: its logger's and its NATS connection's. */
  service: string;
  config: MeshIdentityConfig & {
    DATABASE_URL: string;
    NATS_URL: string;
    NATS_STREAM_REPLICAS?: number | undefined;
    NATS_USER: string;
    NATS_PASSWORD: string;
    LOG_LEVEL: string;
    METRICS_PORT?: number | undefined;
    METRICS_HOST?: string | undefined;
  };
  logger?: Logger | undefined;
  /** The Postgres schema the service owns, with its entities and migrations. */
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas of any entity type.
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  /** Adds the inbox table, for services that consume events idempotently. */
  withInbox?: boolean;
}

/**
 * Opens a service's schema (migrated), its NATS connection with the streams in place, its
 * outbox relay, and its metrics (served on METRICS_PORT when set). A failure closes whatever was already opened before it is rethrown.
 */
export async function openServiceBackbone(
  options: ServiceBackboneOptions,
): Promise<ServiceBackbone> {
  const log =
    options.logger ?? createLogger({ service: options.service, level: options.config.LOG_LEVEL });
  const closer = createCloser((name, error) => log.warn({ err: error }, `closing ${name} failed`));
  try {
    const identity = loadMeshIdentity(options.config);
    const orm = await createDatabase({
      url: options.config.DATABASE_URL,
      schema: options.schema,
      entities: options.entities,
      migrations: options.migrations,
      logger: log,
      withOutbox: true,
      withInbox: options.withInbox ?? false,
    });
    closer.add("database", () => orm.close());
    const nc = await connectNats(options.config.NATS_URL, options.service, "NATS_URL", {
      user: options.config.NATS_USER,
      pass: options.config.NATS_PASSWORD,
    });
    closer.add("nats", () => nc.drain());
    await ensureStreams(nc, undefined, options.config.NATS_STREAM_REPLICAS ?? 1);
    // A dead letter of an event this service produced is replayed by this service (only it may
    // publish its subjects).
    const replays = serveDeadLetterReplays(nc, options.service, log);
    closer.add("dead-letter replays", async () => replays.stop());
    const relay = createOutboxRelay({ orm, nc, logger: log });
    relay.start();
    closer.add("outbox relay", () => relay.stop());
    const metrics = createServiceMetrics({ service: options.service, nc });
    let metricsPort: number | undefined;
    if (options.config.METRICS_PORT !== undefined) {
      const server = await startMetricsServer({
        metrics,
        port: options.config.METRICS_PORT,
        host: options.config.METRICS_HOST ?? "127.0.0.1",
        logger: log,
      });
      closer.add("metrics server", () => server.close());
      metricsPort = server.port;
    }
    return { log, orm, nc, identity, relay, closer, metrics, metricsPort };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}

/**
 * Serves the bindings over gRPC on port (0: a free one), marks them SERVING, and registers the
 * graceful shutdown (in-flight calls get graceMs) with the backbone's closer.
 */
export async function serveGrpc(
  backbone: ServiceBackbone,
  services: ServiceBinding[],
  port: number,
  graceMs?: number,
): Promise<number> {
  const server = createGrpcServer({ services, logger: backbone.log, identity: backbone.identity });
  const bound = await server.listen(port);
  backbone.closer.add("grpc server", () => server.shutdown(graceMs));
  server.setServing(true);
  backbone.log.info({ port: bound }, "listening");
  return bound;
}
