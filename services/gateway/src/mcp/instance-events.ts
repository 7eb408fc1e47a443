import { createEventListener, type EventConsumer, type Logger } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStatusChangedSchema,
  McpServerInstanceStoppedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import type { NatsConnection } from "@nats-io/nats-core";

/** NATS answers a ping (flush waits for the server's pong). */
export async function natsAnswers(nc: NatsConnection): Promise<boolean> {
  if (nc.isClosed()) return false;
  await nc.flush();
  return true;
}

/**
 * Drops cached endpoints when the instances service or the runtime reports a change: a
 * non-durable listener (a missed event costs at most one cache lifetime of staleness).
 */
export function createInvalidationListener(
  nc: NatsConnection,
  invalidate: (id: string) => void,
  logger: Logger,
): EventConsumer {
  const drop = (_payload: unknown, ctx: { envelope: { aggregateId: string } }) =>
    invalidate(ctx.envelope.aggregateId);
  return createEventListener({ nc, logger, service: "gateway", name: "endpoint-cache" }, (events) =>
    events
      .on(McpServerInstanceCreatedSchema, drop)
      .on(McpServerInstanceUpdatedSchema, drop)
      .on(McpServerInstanceStartedSchema, drop)
      .on(McpServerInstanceStoppedSchema, drop)
      .on(McpServerInstanceDeletedSchema, drop)
      .on(McpServerInstanceStatusChangedSchema, drop),
  );
}
