export {
  addressVar,
  baseEnv,
  type EnvSchema,
  flagVar,
  loadConfig,
  meshEnv,
  metricsEnv,
  portVar,
  urlVar,
} from "./load-config.js";
