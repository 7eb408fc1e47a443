import { createEventConsumer, type EventConsumer, type Logger, poison } from "@berth/platform";
import { McpUpstreamCircuitChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { UpstreamCircuit } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { LockMode } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { InstanceEntity, type StoredUpstream } from "../db/instance-entity.js";

/** Options of createUpstreamConsumer. */
export interface UpstreamConsumerOptions {
  nc: NatsConnection;
  orm: MikroORM;
  logger: Logger;
}

const CIRCUITS = new Set<StoredUpstream["circuit"]>(["CLOSED", "OPEN", "HALF_OPEN"]);
const MAX_ERROR_CODE = 64;

/**
 * Consumes the gateway's McpUpstreamCircuitChanged and records it on the instance as `upstream`
 * (observed state like the status: no revision change). Reports older than the stored one are
 * ignored, so redelivery and reordering leave the newest view.
 */
export function createUpstreamConsumer(options: UpstreamConsumerOptions): EventConsumer {
  const { orm, logger } = options;
  return createEventConsumer(
    { nc: options.nc, orm, logger, service: "instances", name: "upstream" },
    (events) =>
      events.on(McpUpstreamCircuitChangedSchema, async (change, { em, envelope }) => {
        if (change.instanceId !== envelope.aggregateId) {
          poison("instance_id: differs from the envelope's aggregate_id");
        }
        const upstream = change.upstream;
        const circuit = UpstreamCircuit[upstream?.circuit ?? 0] as StoredUpstream["circuit"];
        if (!upstream?.updateTime || !CIRCUITS.has(circuit)) {
          poison("upstream: needs a circuit (CLOSED, OPEN or HALF_OPEN) and an update_time");
        }
        if (upstream.lastErrorCode.length > MAX_ERROR_CODE || upstream.consecutiveFailures < 0) {
          poison("upstream: last_error_code longer than 64 characters or negative failures");
        }
        const row = await em.findOne(
          InstanceEntity,
          { id: change.instanceId },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!row) return; // deleted meanwhile
        const updateTime = timestampDate(upstream.updateTime);
        if (row.upstream && new Date(row.upstream.updateTime) > updateTime) return; // older
        row.upstream = {
          circuit,
          consecutiveFailures: upstream.consecutiveFailures,
          lastErrorCode: upstream.lastErrorCode,
          updateTime: updateTime.toISOString(),
          ...(upstream.openTime
            ? { openTime: timestampDate(upstream.openTime).toISOString() }
            : {}),
        };
      }),
  );
}
