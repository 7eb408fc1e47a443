export { type MetricsServer, startMetricsServer } from "./metrics-server.js";
export {
  createServiceMetrics,
  type ServiceMetrics,
  type ServiceMetricsOptions,
} from "./service-metrics.js";
