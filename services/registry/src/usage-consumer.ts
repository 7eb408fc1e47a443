import {
  createEventConsumer,
  type EventConsumer,
  type Logger,
  STREAMS,
  subjectFor,
} from "@berth/platform";
import type {
  McpServerInstanceCreated,
  McpServerInstanceDeleted,
  McpServerInstanceUpdated,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { UUID_PATTERN } from "@berth/spec";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { UsageEntity } from "./db/usage-entity.js";

const UUID = UUID_PATTERN;
const CREATED = "berth.events.v1.McpServerInstanceCreated";
const INSTANCE_EVENTS = subjectFor(CREATED).replace(/[^.]+$/, ">");
const UPDATED = "berth.events.v1.McpServerInstanceUpdated";
const DELETED = "berth.events.v1.McpServerInstanceDeleted";

/** The durable consumer name (also its name in the inbox table). */
export const USAGE_CONSUMER = "registry-instance-usage";

/**
 * Keeps `server_usage` (instance → catalog entry) from the instances service's events, so delete
 * can refuse entries in use without reading another service's tables. Exactly-once through the
 * inbox; out-of-order deliveries are harmless: older versions are ignored and a deleted instance
 * stays deleted.
 */
export function createUsageConsumer(options: {
  nc: NatsConnection;
  orm: MikroORM;
  logger: Logger;
}): EventConsumer {
  return createEventConsumer({
    nc: options.nc,
    orm: options.orm,
    logger: options.logger,
    stream: STREAMS.instances,
    durable: USAGE_CONSUMER,
    // One wildcard, not three subjects: several filter subjects need NATS 2.10 (Debian has 2.9).
    filterSubjects: [INSTANCE_EVENTS],
    async handler({ envelope, payload, em }) {
      if (!em) throw new Error("the usage consumer runs inside the inbox transaction");
      if (![CREATED, UPDATED, DELETED].includes(envelope.eventType)) return;
      const version = Number(envelope.aggregateVersion);
      const deleted = envelope.eventType === DELETED;
      const usage = deleted
        ? (payload as McpServerInstanceDeleted)
        : {
            instanceId: (payload as McpServerInstanceCreated | McpServerInstanceUpdated).instance
              ?.id,
            serverId: (payload as McpServerInstanceCreated).instance?.serverId ?? "",
          };
      const instanceId = usage.instanceId || envelope.aggregateId;
      if (!UUID.test(instanceId)) {
        options.logger.warn(
          { event_id: envelope.eventId },
          "instance event without an instance id; ignored",
        );
        return;
      }
      await applyUsage(em, instanceId, usage.serverId, version, deleted);
    },
  });
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
