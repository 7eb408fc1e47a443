export { extractTraceContext, type HeaderCarrier, injectTraceHeaders } from "./propagation.js";
export { startTracing, type Tracing, type TracingOptions } from "./start-tracing.js";
