import { startTracing } from "@berth/platform/tracing";

// Tracing starts before anything loads the pg driver, so SQL spans are recorded.
const tracing = startTracing({
  serviceName: "instances",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const { loadConfig, runService } = await import("@berth/platform");
const { instancesEnv } = await import("./config.js");
const { startInstances } = await import("./instances-service.js");

await runService("instances", async () => {
  const instances = await startInstances(loadConfig(instancesEnv));
  return {
    async stop() {
      await instances.stop();
      await tracing.shutdown();
    },
  };
});
