import {
  claimInbox,
  createEventConsumer,
  type EventConsumer,
  type Logger,
  STREAMS,
  subjectFor,
} from "@berth/platform";
import {
  type McpServerInstanceStatusChanged,
  McpServerInstanceStatusChangedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { UUID } from "../validation/instance-fields.js";
import type { WatchHub } from "../watch-hub.js";
import { applyStatusReport } from "./apply-report.js";

/** Durable name of the consumer (and its key in the inbox table). */
export const STATUS_DURABLE = "instances-status";

/** Options of createStatusConsumer. */
export interface StatusConsumerOptions {
  nc: NatsConnection;
  orm: MikroORM;
  hub: WatchHub;
  logger: Logger;
}

/**
 * Consumes the runtime's McpServerInstanceStatusChanged. Each event is applied once (inbox row
 * in the same transaction) and in order (generation, sequence); watchers hear of it after commit.
 */
export function createStatusConsumer(options: StatusConsumerOptions): EventConsumer {
  const { orm, hub, logger } = options;
  return createEventConsumer({
    nc: options.nc,
    stream: STREAMS.runtime,
    durable: STATUS_DURABLE,
    filterSubjects: [subjectFor(McpServerInstanceStatusChangedSchema.typeName)],
    logger,
    async handler({ envelope, payload }) {
      if (envelope.eventType !== McpServerInstanceStatusChangedSchema.typeName) return;
      // The inbox keys on a uuid; another id could never be recorded, so it is dropped now.
      if (!UUID.test(envelope.eventId)) {
        logger.warn({ subject: envelope.eventType }, "status event without a uuid id; dropped");
        return;
      }
      const change = await orm.em.fork().transactional(async (em) => {
        if (!(await claimInbox(em, envelope.eventId, STATUS_DURABLE, envelope.eventType)))
          return undefined;
        return applyStatusReport(em, payload as McpServerInstanceStatusChanged, logger);
      });
      if (change) hub.publish(change);
    },
  });
}
