export type { ChangeFacts, McpCallFacts, McpCallOutcome } from "./audit-record.js";
export { type AuditTrail, type AuditTrailOptions, startAuditTrail } from "./audit-trail.js";
export {
  createMcpCallRecorder,
  type McpCallRecorder,
  type McpCallRecorderOptions,
} from "./mcp-call-recorder.js";
export { argumentsDigest } from "./mcp-exchange.js";
export { type McpCallSink, type McpExchangeTap, tapMcpExchange } from "./mcp-exchange-tap.js";
