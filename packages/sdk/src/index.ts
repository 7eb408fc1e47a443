export * from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
export * from "@berth/proto/gen/berth/gateway/v1/audit_pb";
export * from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
export * from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
export * from "@berth/proto/gen/berth/gateway/v1/teams_pb";
export * from "@berth/proto/gen/berth/gateway/v1/users_pb";
export * from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
export * from "@berth/proto/gen/berth/instances/v1/instances_pb";
export * from "@berth/proto/gen/berth/registry/v1/registry_pb";
export * from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
export { type BerthClient, type BerthClientOptions, createBerthClient } from "./client.js";
export { BerthError, type FieldViolation, toBerthError } from "./errors.js";
export { apiKeyInterceptor, bearerTokenInterceptor } from "./interceptors.js";
export { type ListMethod, paginate } from "./paginate.js";
export { requestIdInterceptor } from "./request-id.js";
export {
  backoffDelay,
  isRetryable,
  isSafeToRepeat,
  parseRetryAfter,
  type RetryEvent,
  type RetryOptions,
  retryInterceptor,
} from "./retry.js";
export { withBerthErrors } from "./with-berth-errors.js";
