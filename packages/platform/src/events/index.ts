export {
  type ConsumedEvent,
  createEventConsumer,
  type EventConsumer,
  type EventConsumerOptions,
} from "./consumer.js";
export { type DurableConsumerSpec, ensureDurableConsumer } from "./durable-consumer.js";
export {
  type CreateEnvelopeOptions,
  createEnvelope,
  decodeEnvelope,
  ENVELOPE_SCHEMA_VERSION,
  EnvelopeError,
  encodeEnvelope,
  unpackPayload,
} from "./envelope.js";
export { claimInbox, InboxEntry } from "./inbox.js";
export { connectNats, natsTarget } from "./nats.js";
export { OutboxMessage, type RecordEventOptions, recordEvent } from "./outbox.js";
export {
  type OutboxBatchOptions,
  type OutboxBatchResult,
  pruneOutbox,
  publishOutboxBatch,
} from "./outbox-batch.js";
export { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from "./outbox-relay.js";
export { EVENTS_TRACER, headerCarrier, processInSpan } from "./process-span.js";
export { ALL_STREAMS, DUPLICATE_WINDOW_MS, ensureStreams, streamConfig } from "./streams.js";
export { subjectMatches } from "./subject-match.js";
export {
  EVENT_ROUTES,
  type EventRoute,
  routeFor,
  STREAMS,
  type StreamName,
  subjectFor,
} from "./subjects.js";
