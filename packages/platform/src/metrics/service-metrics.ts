import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { STREAMS } from "../events/subjects.js";

/** A service's metrics: one prom-client registry, every series labelled with the service. */
export interface ServiceMetrics {
  /** Where the service registers its own counters, gauges and histograms (`registers: [registry]`). */
  readonly registry: Registry;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Options of createServiceMetrics. */
export interface ServiceMetricsOptions {
  /** The service's name: the `service` label of every series. */
  service: string;
  /**
   * The service's NATS connection: its durable consumers' backlog (`<service>-*` on every Berth
   * stream) is read from JetStream when scraped.
   */
  nc?: NatsConnection;
}

/**
 * A registry with the process defaults (CPU, memory, event loop lag, GC, handles) and, given a
 * NATS connection, event consumer lag: `berth_event_consumer_pending` (events not yet delivered)
 * and `berth_event_consumer_ack_pending` (delivered, not yet acknowledged) per stream and consumer.
 */
export function createServiceMetrics(options: ServiceMetricsOptions): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const nc = options.nc;
  if (nc) {
    const prefix = `${options.service}-`;
    // One JetStream query per scrape fills both gauges: the first one rendered asks.
    const ackPending = new Gauge({
      name: "berth_event_consumer_ack_pending",
      help: "Events delivered to the durable consumer and not yet acknowledged.",
      labelNames: ["stream", "consumer"],
      registers: [],
    });
    new Gauge({
      name: "berth_event_consumer_pending",
      help: "Events in the stream that the durable consumer has not been delivered yet.",
      labelNames: ["stream", "consumer"],
      registers: [registry],
      async collect() {
        this.reset();
        ackPending.reset();
        // Read when scraped; an unreachable NATS leaves the gauges empty rather than failing.
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2_000 });
          for (const stream of Object.values(STREAMS)) {
            for await (const info of jsm.consumers.list(stream)) {
              if (!info.name.startsWith(prefix)) continue;
              const labels = { stream, consumer: info.name };
              this.set(labels, info.num_pending);
              ackPending.set(labels, info.num_ack_pending);
            }
          }
        } catch {
          // No stream yet, or NATS away.
        }
      },
    });
    registry.registerMetric(ackPending);
  }
  return {
    registry,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
