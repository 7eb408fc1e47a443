export {
  createEventConsumer,
  createEventListener,
  durableName,
  type EventConsumer,
  type EventConsumerBase,
  type EventConsumerOptions,
} from "./consumer.js";
export {
  DeadLetterReplayError,
  producerOf,
  replaySubject,
  requestDeadLetterReplay,
  serveDeadLetterReplays,
} from "./dead-letter-replay.js";
export {
  DEAD_LETTER_HEADERS,
  type DeadLetterFacts,
  getDeadLetter,
  listDeadLetters,
  replayDeadLetter,
  sendToDeadLetters,
} from "./dead-letters.js";
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
export type {
  EventContext,
  EventHandler,
  EventRoutes,
  InboxEventContext,
} from "./event-routes.js";
export { InboxEntry } from "./inbox.js";
export { connectNats, natsTarget } from "./nats.js";
export {
  OutboxMessage,
  outboxRow,
  type RecordEventOptions,
  recordEvent,
} from "./outbox.js";
export {
  type OutboxBatchOptions,
  type OutboxBatchResult,
  pruneOutbox,
  publishOutboxBatch,
} from "./outbox-batch.js";
export { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from "./outbox-relay.js";
export { isPoisonEvent, PoisonEventError, poison } from "./poison.js";
export { EVENTS_TRACER, headerCarrier, processInSpan } from "./process-span.js";
export { ALL_STREAMS, DUPLICATE_WINDOW_MS, ensureStreams, streamConfig } from "./streams.js";
export {
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  EVENT_ROUTES,
  type EventRoute,
  type EventStreamName,
  eventTypeOfSubject,
  filterSubjectOf,
  routeFor,
  STREAMS,
  type StreamName,
  subjectFor,
} from "./subjects.js";
export { type ValidEvent, validateEvent } from "./validate-event.js";
