export {
  addressVar,
  baseEnv,
  type EnvSchema,
  loadConfig,
  meshEnv,
  portVar,
  urlVar,
} from "./load-config.js";
