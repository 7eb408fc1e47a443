import { randomUUID } from "node:crypto";
import { berthRegistry } from "@berth/proto";
import {
  type EventEnvelope,
  EventEnvelopeSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import type { Message } from "@bufbuild/protobuf";
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { anyPack, anyUnpack, timestampNow } from "@bufbuild/protobuf/wkt";
import { currentActor, currentCorrelationId } from "../context/request-context.js";

/** The envelope schema version this build writes and reads. */
export const ENVELOPE_SCHEMA_VERSION = 1;

/** An event that cannot be read: unknown schema version, bad bytes or an unknown payload type. */
export class EnvelopeError extends Error {
  override readonly name = "EnvelopeError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Options of createEnvelope: the payload message with its schema, and the aggregate it is about. */
export interface CreateEnvelopeOptions<Desc extends DescMessage> {
  schema: Desc;
  payload: MessageShape<Desc>;
  aggregateType: string;
  aggregateId: string;
  /** The aggregate's revision after the change. */
  aggregateVersion: bigint | number;
  /** The producing service, e.g. "registry". */
  source: string;
  /** Defaults to the current request's correlation id. */
  correlationId?: string;
  /** The API key id behind the change; defaults to the current request's actor. */
  actor?: string;
}

/** Wraps a payload in a new envelope: uuid event id, occurred_at now, schema version 1. */
export function createEnvelope<Desc extends DescMessage>(
  options: CreateEnvelopeOptions<Desc>,
): EventEnvelope {
  return create(EventEnvelopeSchema, {
    schemaVersion: ENVELOPE_SCHEMA_VERSION,
    eventId: randomUUID(),
    eventType: options.schema.typeName,
    aggregateType: options.aggregateType,
    aggregateId: options.aggregateId,
    aggregateVersion: BigInt(options.aggregateVersion),
    occurredAt: timestampNow(),
    correlationId: options.correlationId ?? currentCorrelationId() ?? "",
    source: options.source,
    actor: options.actor ?? currentActor() ?? "",
    payload: anyPack(options.schema, options.payload),
  });
}

/** Serializes an envelope to protobuf binary (the NATS message body). */
export function encodeEnvelope(envelope: EventEnvelope): Uint8Array {
  return toBinary(EventEnvelopeSchema, envelope);
}

/** Parses protobuf binary into an envelope; throws EnvelopeError for bad bytes or an unknown version. */
export function decodeEnvelope(bytes: Uint8Array): EventEnvelope {
  let envelope: EventEnvelope;
  try {
    envelope = fromBinary(EventEnvelopeSchema, bytes);
  } catch (error) {
    throw new EnvelopeError("event envelope is not valid protobuf", { cause: error });
  }
  if (envelope.schemaVersion !== ENVELOPE_SCHEMA_VERSION) {
    throw new EnvelopeError(
      `event envelope schema_version ${envelope.schemaVersion} is not supported (this build reads ${ENVELOPE_SCHEMA_VERSION})`,
    );
  }
  return envelope;
}

/** The payload message of an envelope, resolved with berthRegistry; throws EnvelopeError when unknown. */
export function unpackPayload(envelope: EventEnvelope): Message {
  if (!envelope.payload) throw new EnvelopeError(`event ${envelope.eventId} has no payload`);
  const payload = anyUnpack(envelope.payload, berthRegistry);
  if (!payload) {
    throw new EnvelopeError(`event payload type "${envelope.payload.typeUrl}" is unknown`);
  }
  return payload;
}
