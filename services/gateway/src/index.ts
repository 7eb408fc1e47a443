export { API_KEY_PATTERN, generateApiKey, parseApiKey } from "./api-keys/key-format.js";
export { type GatewayConfig, gatewayEnv } from "./config.js";
export { type Gateway, type GatewayOptions, startGateway } from "./gateway-service.js";
