import type { JsonObject } from "@bufbuild/protobuf";
import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** The stored form of UpstreamHealth (times as ISO strings). */
export interface StoredUpstream {
  circuit: "CLOSED" | "OPEN" | "HALF_OPEN";
  consecutiveFailures: number;
  openTime?: string;
  lastErrorCode: string;
  updateTime: string;
}

/** The stored form of IdleState (times as ISO strings), as the runtime last reported it. */
export interface StoredIdle {
  timeoutSeconds: number;
  lastRequestTime?: string;
  idleTime?: string;
}

/** An instance row in the instances schema; json_spec holds secret references only. */
export const InstanceEntity = defineEntity({
  name: "InstanceRow",
  tableName: "instances",
  properties: (p) => ({
    id: p.uuid().primary(),
    name: p.string().unique(),
    description: p.text().default(""),
    serverId: p.uuid().nullable(),
    /** The owning team (its name in the gateway); never changes. */
    team: p.string().default("default"),
    specType: p.string(),
    jsonSpec: p.json<JsonObject>().columnType("jsonb"),
    desiredState: p.string(),
    status: p.string(),
    statusMessage: p.text().default(""),
    statusTime: p.datetime().columnType("timestamptz").nullable(),
    /** Generation and sequence of the last status report applied (ordering of reports). */
    statusGeneration: p.bigint("number").default(0),
    statusSequence: p.bigint("number").default(0),
    endpoint: p.string(),
    /** The gateway's circuit breaker on the upstream (McpUpstreamCircuitChanged), if reported. */
    upstream: p.json<StoredUpstream>().columnType("jsonb").nullable(),
    /** The runtime's idle policy and clock (McpServerInstanceStatusChanged.idle), if it has one. */
    idle: p.json<StoredIdle>().columnType("jsonb").nullable(),
    generation: p.bigint("number"),
    revision: p.bigint("number"),
    createdAt: p.datetime().columnType("timestamptz"),
    updatedAt: p.datetime().columnType("timestamptz"),
  }),
});

/** An instance row. */
export type InstanceRow = InferEntity<typeof InstanceEntity>;
