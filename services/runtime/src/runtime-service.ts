import { createHash } from "node:crypto";
import {
  bind,
  createChangeFeed,
  createServiceClient,
  createSqlPool,
  type Logger,
  openServiceBackbone,
  serveGrpc,
} from "@berth/platform";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { createGuardedLookup } from "@berth/spec";
import type { Client } from "@connectrpc/connect";
import { createRuntimeHandlers } from "./api/runtime-handlers.js";
import { createBridgeServer } from "./bridge/bridge-server.js";
import {
  extraLabels,
  type RuntimeConfig,
  runtimeEngine,
  runtimeName,
  runtimeScope,
} from "./config.js";
import { runtimeMigrations, WORKLOAD_CHANGES_CHANNEL } from "./db/migrations.js";
import { WorkloadEntity } from "./db/workload-entity.js";
import { createDockerClient } from "./drivers/docker/docker-client.js";
import { createContainerDriver } from "./drivers/engines.js";
import type { Drivers } from "./drivers/types.js";
import { createUrlDriver } from "./drivers/url-driver.js";
import { applyDesiredChange, createInstanceEventConsumer } from "./events/instance-events.js";
import { createRuntimeLease, type OwnerChange } from "./leases/runtime-lease.js";
import { registerRuntimeMetrics } from "./runtime-metrics.js";
import { createDesiredStateSource, syncDesiredState } from "./supervisor/desired-state-sync.js";
import { createReconciler } from "./supervisor/reconciler.js";
import { createSecretResolver } from "./supervisor/secret-resolver.js";
import { createSupervisors } from "./supervisor/supervisors.js";
import { createWorkloadStore } from "./supervisor/workload-store.js";

/** A running runtime. */
export interface Runtime {
  /** The bound gRPC port. */
  port: number;
  /** The port of its /metrics listener, when METRICS_PORT is set. */
  metricsPort: number | undefined;
  /** The stdio bridge's port on BRIDGE_HOST. */
  bridgePort: number;
  /** The label value that marks this runtime's containers and networks. */
  scope: string;
  /** Its name among the runtimes of its database (the owner workloads name). */
  name: string;
  /** Runs one reconciliation pass now. */
  reconcile(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the runtime: its schema, the outbox relay, the Docker and url drivers, the stdio
 * bridge, a reconciliation pass, the instance-event consumer and the gRPC API. Stopping leaves
 * workloads running (a restarted runtime adopts or replaces them); a failed start closes
 * everything it opened.
 */
export async function startRuntime(config: RuntimeConfig, logger?: Logger): Promise<Runtime> {
  const backbone = await openServiceBackbone({
    service: "runtime",
    config,
    logger,
    schema: "runtime",
    entities: [WorkloadEntity],
    migrations: runtimeMigrations,
    withInbox: true,
  });
  const { log, orm, nc, relay, closer } = backbone;
  try {
    const scope = runtimeScope(config);
    const docker = createDockerClient(config.DOCKER_HOST);
    await docker.ping().catch((error: Error) => {
      // Not fatal: url instances still work, and docker ones start once the engine answers.
      log.warn({ err: error }, "the Docker engine does not answer; docker workloads wait for it");
    });
    const dockerDriver = await createContainerDriver(
      {
        docker,
        labels: { scope, extra: extraLabels(config) },
        guard: {
          guardImage: config.BERTH_GUARD_IMAGE,
          // Derived from the runtime's mesh key like the bridge's: guards of running containers
          // keep their credential across runtime restarts; a new mesh key rotates every credential.
          guardSecret: createHash("sha256")
            .update("berth-port-guard\0")
            .update(backbone.identity.key)
            .digest("hex"),
          launcherPath: config.BERTH_LAUNCHER_PATH,
        },
        config,
      },
      config.BERTH_RUNTIME_DOCKER_DRIVER,
      config.BERTH_RUNTIME_PLACEMENT,
    );
    closer.add("docker driver", () => dockerDriver.close());
    const drivers: Drivers = { docker: dockerDriver, url: createUrlDriver() };

    const bridge = createBridgeServer({
      host: config.BRIDGE_HOST,
      port: config.BRIDGE_PORT,
      logger: log,
      // Stable across restarts (derived from the runtime's mesh key, which npm start keeps): callers
      // and MCP sessions carry over to the next runtime process.
      secret: createHash("sha256")
        .update("berth-bridge\0")
        .update(backbone.identity.key)
        .digest("hex"),
    });
    const bridgePort = await bridge.listen();
    closer.add("bridge", () => bridge.close());

    // Ownership: a lease per runtime, an owner per workload (src/leases). The supervisors are
    // created below; the lease tells them what this runtime gains and loses.
    let supervisors: ReturnType<typeof createSupervisors> | undefined;
    // The lease's own connections: its heartbeat never queues behind the ORM's pool.
    const leaseSql = createSqlPool({
      url: config.DATABASE_URL,
      max: 2,
      statementTimeoutMs: config.RUNTIME_LEASE_TTL_MS,
    });
    closer.add("lease connections", () => leaseSql.close());
    const lease = createRuntimeLease({
      sql: leaseSql,
      name: runtimeName(config),
      engine: runtimeEngine(config),
      ttlMs: config.RUNTIME_LEASE_TTL_MS,
      logger: log,
      onOwned: (ids) => {
        for (const id of ids) supervisors?.kick(id);
      },
      onReleased: (ids) => {
        for (const id of ids) {
          log.info({ instance_id: id }, "workload owned by another runtime now; released");
          void supervisors?.release(id);
        }
      },
    });
    // Ended after the supervisors (closers run last-added first): nothing acts past the lease.
    closer.add("runtime lease", () => lease.stop());
    const store = createWorkloadStore(orm, () => relay.kick(), { runtimeId: () => lease.id() });
    const runtimeMetrics = registerRuntimeMetrics(backbone.metrics, orm);
    supervisors = createSupervisors({
      owns: (instanceId) => lease.owns(instanceId),
      recheck: (instanceId) => lease.recheck(instanceId),
      store,
      drivers,
      bridge,
      secrets: createSecretResolver(config.INSTANCES_ADDR, backbone.identity),
      restart: {
        baseMs: config.RESTART_BACKOFF_MS,
        maxMs: config.RESTART_BACKOFF_MAX_MS,
        maxAttempts: config.RESTART_MAX_ATTEMPTS,
        stableMs: 5 * 60_000,
      },
      logger: log,
      lookup: createGuardedLookup({
        allowLoopback: config.BERTH_ALLOW_LOOPBACK_ENDPOINTS,
        allowPrivate: config.BERTH_ALLOW_PRIVATE_ENDPOINTS,
      }),
      idle: {
        timeoutMs: config.RUNTIME_IDLE_TIMEOUT_SECONDS * 1000,
        wakeTimeoutMs: config.RUNTIME_WAKE_TIMEOUT_SECONDS * 1000,
      },
      onIdle: runtimeMetrics.idle,
    });
    closer.add("supervisors", () => supervisors.closeAll());
    // Every change of a workload's owner or desired state, whichever runtime committed it: the
    // owner converges, a runtime that lost the workload lets go.
    const feed = createChangeFeed({
      url: config.DATABASE_URL,
      channel: WORKLOAD_CHANGES_CHANNEL,
      logger: log,
      onNotify: (payload) => {
        try {
          const change = JSON.parse(payload) as OwnerChange;
          lease.noteChange({ id: change.id, owner: change.owner, epoch: Number(change.epoch) });
        } catch (error) {
          log.warn({ err: error }, "an unreadable workload change notification");
        }
      },
      // Notifications were lost while the feed was away: the heartbeat reads ownership again.
      onGap: () => void lease.beat(),
    });
    await feed.start();
    closer.add("workload change feed", () => feed.stop());
    await lease.start();

    const reconciler = createReconciler({
      store,
      engine: lease.engine,
      drivers,
      supervisors,
      logger: log,
      onPass: runtimeMetrics.reconciled,
    });
    await reconciler.reconcileOnce();
    reconciler.start(config.RECONCILE_INTERVAL_MS);
    closer.add("reconciler", () => reconciler.stop());

    const self = () => (lease.id() ? { id: lease.id(), engine: lease.engine } : undefined);
    const consumer = createInstanceEventConsumer({
      nc,
      orm,
      self,
      logger: log,
      onChange: (instanceId) => supervisors.kick(instanceId),
    });
    await consumer.start();
    closer.add("instance events", () => consumer.stop());

    // Fast recovery: what was asked while this runtime was away starts now, not on redelivery.
    const sync = new AbortController();
    const synced = syncDesiredState({
      source: createDesiredStateSource(config.INSTANCES_ADDR, backbone.identity),
      apply: (change) => orm.em.fork().transactional((em) => applyDesiredChange(em, change, self)),
      kick: (instanceId) => supervisors.kick(instanceId),
      logger: log,
      signal: sync.signal,
    });
    closer.add("desired-state sync", async () => {
      sync.abort();
      await synced;
    });

    const peers = new Map<string, Client<typeof RuntimeService>>();
    const handlers = createRuntimeHandlers({
      lease,
      // Runtime to runtime, with this runtime's mesh identity (MESH_POLICY admits it).
      peer: (address) => {
        let client = peers.get(address);
        if (!client) {
          client = createServiceClient(RuntimeService, address, {
            identity: backbone.identity,
            // A handed-on wake waits as long as a wake does; the caller's deadline ends it sooner.
            defaultTimeoutMs: config.RUNTIME_WAKE_TIMEOUT_SECONDS * 1000 + 5_000,
          });
          peers.set(address, client);
        }
        return client;
      },
      store,
      supervisors,
      drivers,
      defaultWakeTimeoutMs: config.RUNTIME_WAKE_TIMEOUT_SECONDS * 1000,
      onWakeTimeout: runtimeMetrics.wakeTimedOut,
    });
    const port = await serveGrpc(backbone, [bind(RuntimeService, handlers)], config.GRPC_PORT);
    await lease.advertise(config.RUNTIME_ADVERTISE_ADDR ?? `127.0.0.1:${port}`);
    log.info(
      { bridge_port: bridgePort, scope, runtime: lease.name, engine: lease.engine },
      "runtime bridge, scope and lease",
    );
    return {
      port,
      metricsPort: backbone.metricsPort,
      bridgePort,
      scope,
      name: lease.name,
      reconcile: () => reconciler.reconcileOnce(),
      stop: () => closer.closeAll(),
    };
  } catch (error) {
    await closer.closeAll();
    throw error;
  }
}
