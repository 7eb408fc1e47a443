import { startTracing } from "@berth/platform/tracing";

// Tracing starts before anything loads the pg driver, so SQL spans are recorded.
const tracing = startTracing({
  serviceName: "registry",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const { loadConfig, runService } = await import("@berth/platform");
const { registryEnv } = await import("./config.js");
const { startRegistry } = await import("./registry-service.js");

await runService("registry", async () => {
  const registry = await startRegistry(loadConfig(registryEnv));
  return {
    async stop() {
      await registry.stop();
      await tracing.shutdown();
    },
  };
});
