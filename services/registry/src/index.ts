export { type RegistryConfig, registryEnv, STARTER_CATALOG_DIR } from "./config.js";
export { type Registry, startRegistry } from "./registry-service.js";
