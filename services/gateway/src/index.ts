export { type GatewayConfig, gatewayEnv } from "./config.js";
export { type Gateway, startGateway } from "./gateway-service.js";
