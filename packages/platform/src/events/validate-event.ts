import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { UUID_PATTERN } from "@berth/spec";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { decodeEnvelope } from "./envelope.js";
import { PoisonEventError } from "./poison.js";

const UUID = UUID_PATTERN;

/** A message whose envelope and payload passed every check, ready for its handler. */
export interface ValidEvent<Desc extends DescMessage> {
  envelope: EventEnvelope;
  payload: MessageShape<Desc>;
}

/**
 * Decodes and checks one event of the expected type before anything is applied: the envelope
 * reads, its ids are UUIDs (the inbox and every aggregate key on them), its type is the one its
 * subject carries, and the payload decodes as that type. Throws PoisonEventError naming the field.
 */
export function validateEvent<Desc extends DescMessage>(
  bytes: Uint8Array,
  schema: Desc,
): ValidEvent<Desc> {
  let envelope: EventEnvelope;
  try {
    envelope = decodeEnvelope(bytes);
  } catch (error) {
    throw new PoisonEventError(`envelope: ${(error as Error).message}`);
  }
  if (!UUID.test(envelope.eventId)) throw new PoisonEventError("event_id: not a UUID");
  if (envelope.eventType !== schema.typeName) {
    throw new PoisonEventError(
      `event_type: "${clip(envelope.eventType)}" is not the type of its subject (${schema.typeName})`,
    );
  }
  if (!UUID.test(envelope.aggregateId)) throw new PoisonEventError("aggregate_id: not a UUID");
  if (!envelope.occurredAt) throw new PoisonEventError("occurred_at: missing");
  if (!envelope.payload || !anyIs(envelope.payload, schema)) {
    throw new PoisonEventError(`payload: not a ${schema.typeName}`);
  }
  let payload: MessageShape<Desc> | undefined;
  try {
    payload = anyUnpack(envelope.payload, schema);
  } catch {
    payload = undefined;
  }
  if (!payload) throw new PoisonEventError(`payload: not a valid ${schema.typeName}`);
  return { envelope, payload };
}

// Forged values are echoed in reasons only short and on one line.
function clip(value: string): string {
  const line = value.replace(/[\r\n\t]/g, " ");
  return line.length > 80 ? `${line.slice(0, 80)}…` : line;
}
