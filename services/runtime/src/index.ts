export { type RuntimeConfig, runtimeEnv } from "./config.js";
export type { DriverName, WorkloadDriver } from "./drivers/types.js";
export { type Runtime, startRuntime } from "./runtime-service.js";
