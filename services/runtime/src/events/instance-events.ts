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
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import type { DesiredWorkload } from "../db/workload-entity.js";
import { PLACEMENT, WORKLOADS } from "../leases/lease-sql.js";
import { parseSpec } from "../spec/parse-spec.js";

/** Instance events applied in one transaction at most. */
const INSTANCE_EVENTS_PER_TRANSACTION = 32;

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
 * Applies a desired change to the workload row in the caller's transaction, in one statement (an
 * upsert: no row lock taken first, no ORM entity; this runs once per instance event). Changes at
 * or below the row's revision are stale and change nothing; a delete is final (a later replayed
 * create does not revive it). A new workload goes to the least loaded live runtime, whichever
 * applied it (PLACEMENT). Returns whether the row changed.
 */
export async function applyDesiredChange(
  em: EntityManager,
  change: DesiredChange,
  self?: Placement,
): Promise<boolean> {
  const spec = change.spec;
  const driver =
    typeof spec === "object" && spec !== null && "type" in spec && typeof spec.type === "string"
      ? spec.type
      : null;
  // When no runtime looks alive (the applier's own heartbeat overdue on a busy machine), the
  // applier takes it: should its lease really have run out, the row is an orphan like any other
  // and the next scan of a live runtime claims it.
  const fallback = self?.();
  const now = new Date();
  const rows = await em.execute<{ instance_id: string }[]>(
    `with placed as (${PLACEMENT}),
     target as (
       select coalesce(p.id, ?::uuid) as owner, coalesce(p.engine, ?::text, '') as engine
       from (select 1) as one left join placed p on true
     )
     insert into ${WORKLOADS} as w (instance_id, name, revision, generation, desired, spec, driver,
       owner, owner_epoch, engine, created_at, updated_at)
     select ?, ?, ?, ?, ?, ?::jsonb, coalesce(?::text, ''),
       t.owner, case when t.owner is null then 0 else 1 end, t.engine, ?, ?
     from target t
     on conflict (instance_id) do update set
       -- Nothing has been observed of a new generation yet.
       state = case when excluded.generation > w.generation then 'PENDING' else w.state end,
       message = case when excluded.generation > w.generation then '' else w.message end,
       restart_count = case when excluded.generation > w.generation then 0 else w.restart_count end,
       failed_revision = case when excluded.generation > w.generation then -1
         else w.failed_revision end,
       generation = greatest(w.generation, excluded.generation),
       revision = greatest(w.revision, excluded.revision),
       desired = excluded.desired,
       spec = coalesce(excluded.spec, w.spec),
       name = case when excluded.name <> '' then excluded.name else w.name end,
       driver = coalesce(?::text, w.driver),
       updated_at = excluded.updated_at
     where w.desired <> 'deleted' and (excluded.desired = 'deleted' or excluded.revision > w.revision)
     returning w.instance_id`,
    [
      fallback?.id ?? null,
      fallback?.engine ?? null,
      change.instanceId,
      change.name ?? "",
      change.order,
      change.generation,
      change.desired,
      spec === undefined ? null : JSON.stringify(spec),
      driver,
      // The page cursor (created_at, instance_id) carries milliseconds: a time with microseconds
      // (now()) would make a page boundary repeat rows. The process clock, as the ORM wrote it.
      now,
      now,
      driver,
    ],
  );
  return rows.length > 0;
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
    {
      nc: deps.nc,
      orm: deps.orm,
      logger: deps.logger,
      service: "runtime",
      name: "instances",
      // A burst (1,000 creates) is applied in transactions of many events each: one commit and
      // one inbox statement per batch instead of per event.
      batch: INSTANCE_EVENTS_PER_TRANSACTION,
    },
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
