export { extractTraceContext, type HeaderCarrier, injectTraceHeaders } from "./propagation.js";
export {
  startTracing,
  type Tracing,
  type TracingOptions,
  tracingExports,
} from "./start-tracing.js";
