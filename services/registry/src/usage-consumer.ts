import { createEventConsumer, type EventConsumer, type Logger } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import type { McpServerInstance } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { UsageEntity } from "./db/usage-entity.js";

/** The durable consumer name (also its name in the inbox table). */
export const USAGE_CONSUMER = "registry-instance-usage";

/**
 * Keeps `server_usage` (instance → catalog entry) from the instances service's events, so delete
 * can refuse entries in use without reading another service's tables. Exactly-once through the
 * platform's inbox; out-of-order deliveries are harmless: older versions are ignored and a
 * deleted instance stays deleted. The platform has checked that ids are UUIDs.
 */
export function createUsageConsumer(options: {
  nc: NatsConnection;
  orm: MikroORM;
  logger: Logger;
}): EventConsumer {
  const upsert = async (
    em: EntityManager,
    aggregateId: string,
    version: bigint,
    instance: McpServerInstance | undefined,
  ) =>
    applyUsage(em, instance?.id || aggregateId, instance?.serverId ?? "", Number(version), false);
  return createEventConsumer(
    {
      nc: options.nc,
      orm: options.orm,
      logger: options.logger,
      service: "registry",
      name: "instance-usage",
    },
    (events) =>
      events
        .on(McpServerInstanceCreatedSchema, ({ instance }, { em, envelope }) =>
          upsert(em, envelope.aggregateId, envelope.aggregateVersion, instance),
        )
        .on(McpServerInstanceUpdatedSchema, ({ instance }, { em, envelope }) =>
          upsert(em, envelope.aggregateId, envelope.aggregateVersion, instance),
        )
        .on(McpServerInstanceDeletedSchema, ({ instanceId, serverId }, { em, envelope }) =>
          applyUsage(
            em,
            instanceId || envelope.aggregateId,
            serverId,
            Number(envelope.aggregateVersion),
            true,
          ),
        ),
  );
}

async function applyUsage(
  em: EntityManager,
  instanceId: string,
  serverId: string,
  version: number,
  deleted: boolean,
): Promise<void> {
  const row = await em.findOne(UsageEntity, { instanceId });
  if (!row) {
    em.persist(
      em.create(UsageEntity, { instanceId, serverId, version, deleted, updatedAt: new Date() }),
    );
  } else if (!row.deleted && (deleted || version >= row.version)) {
    em.assign(row, {
      serverId: deleted ? row.serverId : serverId,
      version: Math.max(version, row.version),
      deleted,
      updatedAt: new Date(),
    });
  }
  await em.flush();
}
