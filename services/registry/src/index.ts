export { type RegistryConfig, registryEnv } from "./config.js";
export { type Registry, startRegistry } from "./registry-service.js";
