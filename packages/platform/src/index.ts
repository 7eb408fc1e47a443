// The metric types services register on their ServiceMetrics registry (one library, one owner).
export { Counter, Gauge, Histogram } from "prom-client";
export {
  addressVar,
  baseEnv,
  type EnvSchema,
  flagVar,
  loadConfig,
  meshEnv,
  metricsEnv,
  portVar,
  urlListVar,
  urlVar,
} from "./config/index.js";
export {
  ACTOR_HEADER,
  actorOf,
  CORRELATION_HEADER,
  currentActor,
  currentCorrelationId,
  type RequestContext,
  withActor,
  withCorrelationId,
} from "./context/request-context.js";
export {
  type ChangeFeed,
  type ChangeFeedOptions,
  type CreateDatabaseOptions,
  createChangeFeed,
  createDatabase,
  createPreparedReads,
  createSqlPool,
  insertRows,
  type PreparedReads,
  type RowInsert,
  type SqlExecutor,
  type SqlPool,
} from "./db/index.js";
export {
  dependencyUnavailable,
  isDatabaseUnavailable,
  RETRY_AFTER_SECONDS,
  retryAfterOf,
  unavailableDependencyOf,
  unavailableRetryAfter,
} from "./errors/dependency-unavailable.js";
export {
  aborted,
  alreadyExists,
  Code,
  ConnectError,
  type FieldViolation,
  failedPrecondition,
  fieldViolationsOf,
  invalidArgument,
  notFound,
  unavailable,
} from "./errors/errors.js";
export { codeName, httpStatusOf, statusDetailsBin, toConnectError } from "./errors/status.js";
export {
  connectNats,
  createEnvelope,
  createEventConsumer,
  createEventListener,
  createOutboxRelay,
  DEAD_LETTER_STREAM,
  DeadLetterReplayError,
  decodeEnvelope,
  EVENT_ROUTES,
  type EventConsumer,
  type EventConsumerOptions,
  type EventContext,
  type EventRoutes,
  encodeEnvelope,
  ensureStreams,
  getDeadLetter,
  InboxEntry,
  type InboxEventContext,
  isPoisonEvent,
  listDeadLetters,
  OutboxMessage,
  type OutboxRelay,
  outboxRow,
  PoisonEventError,
  poison,
  recordEvent,
  replayDeadLetter,
  requestDeadLetterReplay,
  STREAMS,
  serveDeadLetterReplays,
  subjectFor,
  unpackPayload,
} from "./events/index.js";
export {
  ANY_IDENTITY,
  authorizeMeshCall,
  bind,
  commonNameOf,
  createGrpcServer,
  createMeshAuthorizer,
  createServiceClient,
  type GrpcServer,
  type GrpcServerOptions,
  loadMeshIdentity,
  MESH_POLICY,
  type MeshCallers,
  type MeshIdentity,
  type MeshIdentityConfig,
  type MeshPolicy,
  type MeshRefusal,
  metadataToHeaders,
  type ServiceBinding,
  type ServiceClientOptions,
  toGrpcServiceDefinition,
} from "./grpc/index.js";
export {
  canonicalJson,
  createIdempotentWrites,
  fingerprintRequest,
  type IdempotentCall,
  type IdempotentResult,
  type IdempotentWrites,
  type IdempotentWritesOptions,
  REQUEST_ID_FIELD,
  REQUEST_ID_RETENTION_MS,
  requestIdOf,
  requestIdsMigration,
} from "./idempotency/index.js";
export {
  type CreateLoggerOptions,
  createLogger,
  type Logger,
  REDACT_PATHS,
} from "./logging/logger.js";
export {
  BRIDGE_CHANNEL_HEADER,
  BRIDGE_CHANNEL_PATH,
  BRIDGE_CHANNEL_PROTOCOL,
  type ChannelHead,
  type ChannelRequest,
  createFrameReader,
  decodeHead,
  decodeOpen,
  encodeFrame,
  encodeHead,
  encodeOpen,
  type FrameHandler,
  FrameType,
  MAX_FRAME_BYTES,
  splitBridgeChannel,
} from "./mcp/bridge-channel.js";
export { dialGuarded, GUARD_HEADER, guardPreamble, splitGuard } from "./mcp/port-guard.js";
export {
  createServiceMetrics,
  type MetricsServer,
  type ServiceMetrics,
  type ServiceMetricsOptions,
  startMetricsServer,
} from "./metrics/index.js";
export {
  decodePageToken,
  encodePageToken,
  filterDigest,
  type PageCursor,
} from "./paging/page-token.js";
export {
  type KeyRing,
  keyRingVar,
  openValue,
  parseKeyRing,
  type SealedValue,
  type SecretKey,
  sealValue,
} from "./sealing/index.js";
export { type Closer, createCloser } from "./service/closer.js";
export { failpoint } from "./service/failpoint.js";
export { type RunningService, type RunServiceOptions, runService } from "./service/run-service.js";
export {
  openServiceBackbone,
  type ServiceBackbone,
  type ServiceBackboneOptions,
  serveGrpc,
} from "./service/service-backbone.js";
export { StartupError } from "./service/startup-error.js";
export {
  extractTraceContext,
  type HeaderCarrier,
  injectTraceHeaders,
  startTracing,
  type Tracing,
  type TracingOptions,
  tracingExports,
} from "./tracing/index.js";
