import type { MikroORM } from "@mikro-orm/postgresql";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../logging/logger.js";
import { pruneOutbox, publishOutboxBatch } from "./outbox-batch.js";
import { createWaker } from "./waker.js";

/** Options of createOutboxRelay. */
export interface OutboxRelayOptions {
  orm: MikroORM;
  nc: NatsConnection;
  logger: Logger;
  /** How often the outbox is polled when nobody kicks (covers crashes and other replicas). */
  pollIntervalMs?: number;
  batchSize?: number;
  /** Sent rows older than this are deleted (default one day). */
  retentionMs?: number;
  publishTimeoutMs?: number;
  /**
   * Upper bound of the back-off after a failure (NATS or Postgres away; default 2 s): also the
   * longest an event waits after the outage ends, so it stays well inside the 10 s convergence
   * target. One failing query or publish every 2 s costs nothing.
   */
  maxBackoffMs?: number;
}

/** The background publisher of a service's outbox. */
export interface OutboxRelay {
  /** Wakes the relay now (call after a commit that recorded events). */
  kick(): void;
  start(): void;
  /** Stops after the batch in flight; resolves when the loop has ended. */
  stop(): Promise<void>;
}

const PRUNE_EVERY_MS = 60_000;

/** Creates the relay that publishes outbox rows to JetStream in order, with Nats-Msg-Id = event id. */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { orm, logger } = options;
  const schema = orm.config.get("schema") ?? "public";
  const js = jetstream(options.nc);
  const batch = {
    schema,
    batchSize: options.batchSize ?? 100,
    publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
    logger,
  };
  let waker = createWaker();
  let running: Promise<void> | undefined;
  let stopping = false;
  let lastPrune = 0;
  // Whether the NATS connection is up. A publish made while it is down waits in the client's
  // buffer and runs into its timeout after the reconnect (measured: 5 s of a NATS outage's
  // recovery); so none is made then, and the reconnect wakes the relay at once.
  let connected = true;
  let reconnected = false;
  void (async () => {
    for await (const status of options.nc.status()) {
      if (status.type === "disconnect") connected = false;
      else if (status.type === "reconnect") {
        connected = true;
        reconnected = true;
        waker.interrupt();
      }
    }
  })().catch(() => undefined);

  async function loop(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let delay = options.pollIntervalMs ?? 1_000;
      if (reconnected) {
        // Back from an outage: start again from the shortest back-off.
        reconnected = false;
        failures = 0;
      }
      if (!connected) {
        await waker.sleep(options.maxBackoffMs ?? 2_000, false);
        continue;
      }
      try {
        const result = await publishOutboxBatch(orm, js, batch);
        if (result.error) throw result.error;
        failures = 0;
        if (result.full) delay = 0;
        if (Date.now() - lastPrune >= PRUNE_EVERY_MS) {
          lastPrune = Date.now();
          await pruneOutbox(orm, schema, options.retentionMs ?? 86_400_000);
        }
      } catch (error) {
        failures += 1;
        const backoff = Math.min(options.maxBackoffMs ?? 2_000, 100 * 2 ** Math.min(failures, 10));
        delay = backoff / 2 + Math.random() * (backoff / 2);
        if (failures === 1 || failures % 10 === 0) {
          logger.warn({ err: error, failures }, "outbox relay failing; backing off");
        }
      }
      // A kick during back-off is ignored: NATS or Postgres is away, hammering would not help.
      await waker.sleep(delay, failures === 0);
    }
  }

  return {
    kick: () => waker.wake(),
    start() {
      if (running) return;
      stopping = false;
      waker = createWaker();
      running = loop();
    },
    async stop() {
      stopping = true;
      waker.wake(true);
      await running;
      running = undefined;
    },
  };
}
