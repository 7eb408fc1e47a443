import { defineEntity, type InferEntity } from "@mikro-orm/core";

/**
 * Which catalog entry an instance uses, learned from the instances service's events (never from
 * its tables). A deleted instance stays as a tombstone so a late, redelivered event cannot
 * bring it back.
 */
export const UsageEntity = defineEntity({
  name: "UsageRow",
  tableName: "server_usage",
  properties: (p) => ({
    instanceId: p.uuid().primary(),
    /** Empty when the instance uses no catalog entry. */
    serverId: p.string().default(""),
    /** The instance's aggregate version of the last event applied. */
    version: p.bigint("number").default(0),
    deleted: p.boolean().default(false),
    updatedAt: p.datetime().columnType("timestamptz"),
  }),
});

/** A usage row. */
export type UsageRow = InferEntity<typeof UsageEntity>;
