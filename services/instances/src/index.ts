export { type KeyRing, parseKeyRing, type SecretKey } from "@berth/platform";
export { formatSecretRef as secretRef } from "@berth/spec";
export { type InstancesConfig, instancesEnv } from "./config.js";
export { type Instances, startInstances } from "./instances-service.js";
