import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** What the runtime was last told an instance should be. */
export type DesiredWorkload = "running" | "stopped" | "deleted";

/**
 * One instance's workload: the desired state from the last applied event (by revision) and the
 * observed state the runtime reported last. Rows of deleted instances stay as tombstones (state
 * REMOVED), so a replayed create never brings them back.
 */
export const WorkloadEntity = defineEntity({
  name: "WorkloadRow",
  tableName: "workloads",
  properties: (p) => ({
    instanceId: p.string().primary(),
    name: p.string().default(""),
    /** aggregate_version of the last applied instance event (its ordering key). */
    revision: p.bigint("number").default(0),
    generation: p.bigint("number").default(0),
    desired: p.string().$type<DesiredWorkload>(),
    /** The json_spec (secret references only, never values). */
    spec: p.json<unknown>().columnType("jsonb").nullable(),
    driver: p.string().default(""),
    /** A WorkloadState name without prefix: STARTING, RUNNING, … REMOVED; PENDING before any. */
    state: p.string().default("PENDING"),
    message: p.text().default(""),
    /** The revision a FAILED state belongs to: no retries until a newer revision arrives. */
    failedRevision: p.bigint("number").default(-1),
    containerId: p.text().default(""),
    endpoint: p.text().default(""),
    restartCount: p.integer().default(0),
    /** Monotonic per instance: the sequence of the last McpServerInstanceStatusChanged. */
    sequence: p.bigint("number").default(0),
    tools: p.json<unknown[]>().columnType("jsonb").nullable(),
    toolsObservedAt: p.datetime().columnType("timestamptz").nullable(),
    observedAt: p.datetime().columnType("timestamptz").nullable(),
    /** The last MCP traffic the gateway reported (the idle policy's clock; written in steps). */
    lastRequestAt: p.datetime().columnType("timestamptz").nullable(),
    /** The runtime (a row of runtime.runtimes) that owns the workload; null: nobody yet. */
    owner: p.string().columnType("uuid").nullable(),
    /** Bumped on every change of owner: the compare-and-set token of a claim. */
    ownerEpoch: p.bigint("number").default(0),
    /** The engine (Docker host) the workload was placed on; empty before placement. */
    engine: p.text().default(""),
    createdAt: p.datetime().columnType("timestamptz"),
    updatedAt: p.datetime().columnType("timestamptz"),
  }),
});

/** A workload row. */
export type WorkloadRow = InferEntity<typeof WorkloadEntity>;
