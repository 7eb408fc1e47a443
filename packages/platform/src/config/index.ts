export { addressVar, baseEnv, type EnvSchema, loadConfig, portVar, urlVar } from "./load-config.js";
