/**
 * @berth/spec: what an instance's json_spec is and which inputs are safe, in one place.
 * A package of its own (not beside packages/proto's generated code) because json_spec is JSON,
 * not a protobuf message, and its readers differ in weight: the CLI must not pull in the
 * platform (NATS, Postgres, gRPC), and the platform itself uses the UUID pattern. It depends
 * on nothing of Berth's, so every package and service can use it.
 */
export * from "./address-policy.js";
export * from "./delegation.js";
export * from "./docker-policy.js";
export * from "./guarded-lookup.js";
export * from "./headers.js";
export * from "./idle-policy.js";
export * from "./instance-name.js";
export * from "./json-spec.js";
export * from "./limits.js";
export * from "./problems.js";
export * from "./quantities.js";
export * from "./secret-ref.js";
export { DEFAULT_TEAM, TEAM_NAME_PATTERN } from "./team-name.js";
export * from "./token-exchange.js";
export * from "./uuid.js";
