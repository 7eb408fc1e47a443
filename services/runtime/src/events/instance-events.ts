import {
  createEventConsumer,
  type EventConsumer,
  type InboxEventContext,
  type Logger,
  poison,
} from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
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
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { type DesiredWorkload, WorkloadEntity } from "../db/workload-entity.js";
import { placeWorkload } from "../leases/lease-sql.js";
import { parseSpec } from "../spec/parse-spec.js";

/** The applying runtime, where a new workload goes when no runtime looks alive. */
export type Placement = () => { id: string; engine: string } | undefined;

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

/**
 * The desired change an event with an instance snapshot carries. `desired` overrides the
 * snapshot's desired state (Started, Stopped). Poison when the snapshot is missing, is about
 * another instance than the envelope, or (checkSpec) has a json_spec the runtime cannot run.
 */
export function desiredChangeOf(
  instance: McpServerInstance | undefined,
  ctx: Pick<InboxEventContext, "envelope">,
  options: { desired?: DesiredWorkload; checkSpec: boolean },
): DesiredChange {
  if (!instance) poison("instance: missing");
  if (instance.id !== ctx.envelope.aggregateId) {
    poison("instance.id: differs from the envelope's aggregate_id");
  }
  const spec = instance.jsonSpec ?? {};
  if (options.checkSpec) {
    const parsed = parseSpec(spec);
    if (!parsed.ok) poison(parsed.message);
  }
  return {
    instanceId: instance.id,
    order: Number(ctx.envelope.aggregateVersion || instance.revision || instance.generation),
    generation: Number(instance.generation),
    desired:
      options.desired ?? (instance.desiredState === DesiredState.STOPPED ? "stopped" : "running"),
    name: instance.name,
    spec,
  };
}

/**
 * Applies a desired change to the workload row in the caller's transaction. Changes at or below
 * the row's revision are stale and change nothing; a delete is final (a later replayed create
 * does not revive it). Returns whether the row changed.
 */
export async function applyDesiredChange(
  em: EntityManager,
  change: DesiredChange,
  self?: Placement,
): Promise<boolean> {
  const now = new Date();
  const row = await em.findOne(
    WorkloadEntity,
    { instanceId: change.instanceId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  const spec = change.spec;
  const driver =
    typeof spec === "object" && spec !== null && "type" in spec ? spec.type : undefined;
  if (!row) {
    // Placement: the new workload goes to the least loaded live runtime, whichever applied it.
    // When none looks alive (the applier's own heartbeat is overdue on a busy machine), the
    // applier takes it: should its lease really have run out, the row is an orphan like any
    // other and the next scan of a live runtime claims it.
    const placed = (await placeWorkload(em)) ?? self?.();
    em.create(WorkloadEntity, {
      owner: placed?.id ?? null,
      ownerEpoch: placed ? 1 : 0,
      engine: placed?.engine ?? "",
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
}

/**
 * The durable consumer of instance events: each change is applied once (the platform's inbox),
 * and the instance's supervisor is kicked after commit. Events the runtime could never act on
 * (an instance snapshot about another id, a json_spec it cannot parse) are poison: they go to
 * the dead letters and create no workload.
 */
export function createInstanceEventConsumer(deps: {
  nc: NatsConnection;
  orm: MikroORM;
  logger: Logger;
  onChange(instanceId: string): void;
  /** This runtime, for placement when no runtime looks alive. */
  self?: Placement;
}): EventConsumer {
  const apply = async (change: DesiredChange, ctx: InboxEventContext) => {
    const applied = await applyDesiredChange(ctx.em, change, deps.self);
    ctx.afterCommit(() => deps.onChange(change.instanceId));
    if (applied) {
      deps.logger.debug(
        { instance_id: change.instanceId, desired: change.desired },
        "desired state applied",
      );
    }
  };
  return createEventConsumer(
    { nc: deps.nc, orm: deps.orm, logger: deps.logger, service: "runtime", name: "instances" },
    (events) =>
      events
        .on(McpServerInstanceCreatedSchema, ({ instance }, ctx) =>
          apply(desiredChangeOf(instance, ctx, { checkSpec: true }), ctx),
        )
        .on(McpServerInstanceUpdatedSchema, ({ instance }, ctx) =>
          apply(desiredChangeOf(instance, ctx, { checkSpec: true }), ctx),
        )
        .on(McpServerInstanceStartedSchema, ({ instance }, ctx) =>
          apply(desiredChangeOf(instance, ctx, { desired: "running", checkSpec: true }), ctx),
        )
        .on(McpServerInstanceStoppedSchema, ({ instance }, ctx) =>
          // A stop needs no runnable spec: stopping must work for any workload.
          apply(desiredChangeOf(instance, ctx, { desired: "stopped", checkSpec: false }), ctx),
        )
        .on(McpServerInstanceDeletedSchema, ({ instanceId, generation }, ctx) => {
          if (instanceId && instanceId !== ctx.envelope.aggregateId) {
            poison("instance_id: differs from the envelope's aggregate_id");
          }
          return apply(
            {
              instanceId: ctx.envelope.aggregateId,
              order: Number(ctx.envelope.aggregateVersion),
              generation: Number(generation),
              desired: "deleted",
            },
            ctx,
          );
        }),
  );
}
