export {
  addressVar,
  baseEnv,
  type EnvSchema,
  flagVar,
  loadConfig,
  meshEnv,
  portVar,
  urlVar,
} from "./load-config.js";
