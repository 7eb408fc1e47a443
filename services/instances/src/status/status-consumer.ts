import { createEventConsumer, type EventConsumer, type Logger, poison } from "@berth/platform";
import { McpServerInstanceStatusChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { applyStatusReport } from "./apply-report.js";

/** Durable name of the consumer (and its key in the inbox table). */
export const STATUS_DURABLE = "instances-status";

/** Options of createStatusConsumer. */
export interface StatusConsumerOptions {
  nc: NatsConnection;
  orm: MikroORM;
  logger: Logger;
}

/**
 * Consumes the runtime's McpServerInstanceStatusChanged. Each event is applied once (the
 * platform's inbox) and in order (generation, sequence); watchers hear of it from the database.
 */
export function createStatusConsumer(options: StatusConsumerOptions): EventConsumer {
  const { orm, logger } = options;
  return createEventConsumer(
    { nc: options.nc, orm, logger, service: "instances", name: "status" },
    (events) =>
      events.on(McpServerInstanceStatusChangedSchema, async (report, { em, envelope }) => {
        // The envelope's aggregate id is checked to be a UUID; the report must be about it.
        if (report.instanceId !== envelope.aggregateId) {
          poison("instance_id: differs from the envelope's aggregate_id");
        }
        // Watchers hear of it from the database's change notifications.
        await applyStatusReport(em, report, logger);
      }),
  );
}
