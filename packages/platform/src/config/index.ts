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
} from "./load-config.js";
