import { createEnvelope, currentCorrelationId, outboxRow, recordEvent } from "@berth/platform";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStoppedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { InstanceRow } from "./db/instance-entity.js";
import { instanceFromRow } from "./instance-mapper.js";

/** An instance event to record with a state change. */
export type InstanceEvent =
  | { kind: "created" | "started" | "stopped" }
  | { kind: "updated"; changedFields: string[] }
  | { kind: "deleted" };

function envelopeOf<D extends DescMessage>(row: InstanceRow, schema: D, payload: MessageShape<D>) {
  return createEnvelope({
    schema,
    payload,
    aggregateType: "McpServerInstance",
    aggregateId: row.id,
    aggregateVersion: row.revision,
    source: "instances",
    correlationId: currentCorrelationId(),
  });
}

function record<D extends DescMessage>(
  em: EntityManager,
  row: InstanceRow,
  schema: D,
  payload: MessageShape<D>,
) {
  recordEvent(em, envelopeOf(row, schema, payload));
}

/**
 * The outbox row of McpServerInstanceCreated for a new row, for a create that inserts both in
 * one statement (insertRows); the same event recordInstanceEvent(…, { kind: "created" }) records.
 */
export function createdEventRow(row: InstanceRow) {
  const schema = McpServerInstanceCreatedSchema;
  return outboxRow(envelopeOf(row, schema, create(schema, { instance: instanceFromRow(row) })));
}

/**
 * Adds the event to the outbox in the caller's transaction. The snapshot is the row as it will
 * be committed: json_spec with secret references only, generation and desired state.
 */
export function recordInstanceEvent(em: EntityManager, row: InstanceRow, event: InstanceEvent) {
  const instance = instanceFromRow(row);
  switch (event.kind) {
    case "created":
      return record(
        em,
        row,
        McpServerInstanceCreatedSchema,
        create(McpServerInstanceCreatedSchema, { instance }),
      );
    case "started":
      return record(
        em,
        row,
        McpServerInstanceStartedSchema,
        create(McpServerInstanceStartedSchema, { instance }),
      );
    case "stopped":
      return record(
        em,
        row,
        McpServerInstanceStoppedSchema,
        create(McpServerInstanceStoppedSchema, { instance }),
      );
    case "updated":
      return record(
        em,
        row,
        McpServerInstanceUpdatedSchema,
        create(McpServerInstanceUpdatedSchema, { instance, changedFields: event.changedFields }),
      );
    case "deleted":
      return record(
        em,
        row,
        McpServerInstanceDeletedSchema,
        create(McpServerInstanceDeletedSchema, {
          instanceId: row.id,
          serverId: row.serverId ?? "",
          generation: BigInt(row.generation),
          name: row.name,
        }),
      );
  }
}
