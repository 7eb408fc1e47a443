import {
  type ConsumedEvent,
  createEventConsumer,
  type EventConsumer,
  type Logger,
} from "@berth/platform";
import {
  type McpServerInstanceCreated,
  McpServerInstanceCreatedSchema,
  type McpServerInstanceDeleted,
  McpServerInstanceDeletedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStoppedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import {
  DesiredState,
  type McpServerInstance,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { LockMode } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { type DesiredWorkload, WorkloadEntity } from "../db/workload-entity.js";

/** The instance events the runtime consumes. */
export const INSTANCE_EVENT_TYPES: readonly string[] = [
  McpServerInstanceCreatedSchema,
  McpServerInstanceUpdatedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStoppedSchema,
  McpServerInstanceDeletedSchema,
].map((schema) => schema.typeName);

/** The subjects of the instance events (berth.instances.instance.created, …). */
export const INSTANCE_SUBJECTS = "berth.instances.instance.>";

/** One event reduced to what the workload table needs. */
export interface DesiredChange {
  instanceId: string;
  /** Ordering key: the instance's aggregate version (revision). */
  order: number;
  generation: number;
  desired: DesiredWorkload;
  name?: string;
  spec?: unknown;
}

/** The desired change an instance event carries; undefined for events without an instance. */
export function desiredChangeOf(event: ConsumedEvent): DesiredChange | undefined {
  const type = event.envelope.eventType;
  if (type === McpServerInstanceDeletedSchema.typeName) {
    const payload = event.payload as McpServerInstanceDeleted;
    const instanceId = payload.instanceId || event.envelope.aggregateId;
    if (!instanceId) return undefined;
    const order = Number(event.envelope.aggregateVersion);
    return { instanceId, order, generation: Number(payload.generation), desired: "deleted" };
  }
  const instance: McpServerInstance | undefined = (event.payload as McpServerInstanceCreated)
    .instance;
  if (!instance?.id) return undefined;
  let desired: DesiredWorkload =
    instance.desiredState === DesiredState.STOPPED ? "stopped" : "running";
  if (type === McpServerInstanceStartedSchema.typeName) desired = "running";
  if (type === McpServerInstanceStoppedSchema.typeName) desired = "stopped";
  return {
    instanceId: instance.id,
    order: Number(event.envelope.aggregateVersion || instance.revision || instance.generation),
    generation: Number(instance.generation),
    desired,
    name: instance.name,
    spec: instance.jsonSpec ?? {},
  };
}

/**
 * Applies a desired change to the workload row. Changes at or below the row's revision are
 * replays and change nothing; a delete is final (a later replayed create does not revive it).
 * Returns whether the row changed.
 */
export async function applyDesiredChange(orm: MikroORM, change: DesiredChange): Promise<boolean> {
  return orm.em.fork().transactional(async (em) => {
    const now = new Date();
    const row = await em.findOne(
      WorkloadEntity,
      { instanceId: change.instanceId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    const driver = (change.spec as { type?: unknown } | undefined)?.type;
    if (!row) {
      em.create(WorkloadEntity, {
        instanceId: change.instanceId,
        name: change.name ?? "",
        revision: change.order,
        generation: change.generation,
        desired: change.desired,
        spec: change.spec ?? null,
        driver: typeof driver === "string" ? driver : "",
        createdAt: now,
        updatedAt: now,
      });
      return true;
    }
    if (row.desired === "deleted") return false;
    if (change.desired !== "deleted" && change.order <= row.revision) return false;
    if (change.generation > row.generation) {
      // Nothing has been observed of the new generation yet.
      row.generation = change.generation;
      row.state = "PENDING";
      row.message = "";
      row.restartCount = 0;
      row.failedRevision = -1;
    }
    row.revision = Math.max(row.revision, change.order);
    row.desired = change.desired;
    if (change.spec !== undefined) row.spec = change.spec;
    if (change.name) row.name = change.name;
    if (typeof driver === "string") row.driver = driver;
    row.updatedAt = now;
    return true;
  });
}

/** The durable consumer of instance events; each applied change kicks the instance's supervisor. */
export function createInstanceEventConsumer(deps: {
  nc: NatsConnection;
  orm: MikroORM;
  logger: Logger;
  onChange(instanceId: string): void;
}): EventConsumer {
  return createEventConsumer({
    nc: deps.nc,
    stream: "BERTH_INSTANCES",
    durable: "runtime-instances",
    // One wildcard: filters of several subjects need NATS 2.10, and Debian ships 2.9.
    filterSubjects: [INSTANCE_SUBJECTS],
    logger: deps.logger,
    async handler(event) {
      if (!INSTANCE_EVENT_TYPES.includes(event.envelope.eventType)) return;
      const change = desiredChangeOf(event);
      if (!change) {
        deps.logger.warn(
          { event_id: event.envelope.eventId },
          "instance event without an instance id; ignored",
        );
        return;
      }
      const applied = await applyDesiredChange(deps.orm, change);
      // Kicked even for a replay: converging is idempotent and a replay may follow a crash.
      deps.onChange(change.instanceId);
      if (applied) {
        deps.logger.debug(
          { instance_id: change.instanceId, desired: change.desired },
          "desired state applied",
        );
      }
    },
  });
}
