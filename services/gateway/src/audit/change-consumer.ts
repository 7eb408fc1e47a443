import { createEventConsumer, type EventConsumer, type Logger } from "@berth/platform";
import {
  McpServerCreatedSchema,
  McpServerDeletedSchema,
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceIdleChangedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStoppedSchema,
  McpServerInstanceUpdatedSchema,
  McpServerUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { changeRow } from "./audit-record.js";
import type { AuditStore } from "./audit-store.js";
import { type ChangeSubject, changeFromEvent } from "./change-events.js";

/** Options of createChangeConsumer. */
export interface ChangeConsumerOptions {
  nc: NatsConnection;
  orm: MikroORM;
  store: AuditStore;
  logger: Logger;
}

/** The durable consumer's name within the gateway (durable `gateway-audit`). */
export const AUDIT_CONSUMER = "audit";

/**
 * Records every change to catalog entries and instances in the audit trail, from the events the
 * registry and the instances service publish (and the runtime's sleeps and wake-ups of idle
 * instances): durable, so changes made while the gateway was
 * away are recorded when it returns; each event once (the inbox, in the same transaction).
 */
export function createChangeConsumer(options: ChangeConsumerOptions): EventConsumer {
  const { store } = options;
  return createEventConsumer(
    {
      nc: options.nc,
      orm: options.orm,
      logger: options.logger,
      service: "gateway",
      name: AUDIT_CONSUMER,
    },
    (events) => {
      type Ctx = Parameters<Parameters<typeof events.on>[1]>[1];
      const record = (ctx: Ctx, subject: ChangeSubject) =>
        store.insert([changeRow(changeFromEvent(ctx.envelope, subject))], ctx.em);
      const server =
        (action: ChangeSubject["action"]) =>
        (
          payload: { server?: { id: string; name: string } | undefined; changedFields?: string[] },
          ctx: Ctx,
        ) =>
          record(ctx, {
            resourceType: "McpServer",
            resourceId: payload.server?.id ?? ctx.envelope.aggregateId,
            resourceName: payload.server?.name ?? "",
            action,
            changedFields: payload.changedFields ?? [],
          });
      const instance =
        (action: ChangeSubject["action"]) =>
        (
          payload: {
            instance?: { id: string; name: string } | undefined;
            changedFields?: string[];
          },
          ctx: Ctx,
        ) =>
          record(ctx, {
            resourceType: "McpServerInstance",
            resourceId: payload.instance?.id ?? ctx.envelope.aggregateId,
            resourceName: payload.instance?.name ?? "",
            action,
            changedFields: payload.changedFields ?? [],
          });
      events
        .on(McpServerCreatedSchema, server("created"))
        .on(McpServerUpdatedSchema, server("updated"))
        .on(McpServerDeletedSchema, (payload, ctx) =>
          record(ctx, {
            resourceType: "McpServer",
            resourceId: payload.serverId,
            resourceName: payload.name,
            action: "deleted",
          }),
        )
        .on(McpServerInstanceCreatedSchema, instance("created"))
        .on(McpServerInstanceUpdatedSchema, instance("updated"))
        .on(McpServerInstanceStartedSchema, instance("started"))
        .on(McpServerInstanceStoppedSchema, instance("stopped"))
        .on(McpServerInstanceDeletedSchema, (payload, ctx) =>
          record(ctx, {
            resourceType: "McpServerInstance",
            resourceId: payload.instanceId,
            resourceName: payload.name,
            action: "deleted",
          }),
        )
        // The runtime's idle policy: sleeps and wake-ups change no setting, so no revision.
        .on(McpServerInstanceIdleChangedSchema, (payload, ctx) =>
          store.insert(
            [
              changeRow({
                ...changeFromEvent(ctx.envelope, {
                  resourceType: "McpServerInstance",
                  resourceId: payload.instanceId,
                  resourceName: payload.name,
                  action: payload.idle ? "slept" : "woke",
                }),
                revisionBefore: 0n,
                revisionAfter: 0n,
              }),
            ],
            ctx.em,
          ),
        );
    },
  );
}
