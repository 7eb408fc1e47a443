import { startTracing } from "@berth/platform/tracing";

// Tracing starts before anything loads the pg driver, so SQL spans are recorded.
const tracing = startTracing({
  serviceName: "runtime",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const { loadConfig, runService } = await import("@berth/platform");
const { runtimeEnv } = await import("./config.js");
const { startRuntime } = await import("./runtime-service.js");

await runService("runtime", async () => {
  const runtime = await startRuntime(loadConfig(runtimeEnv));
  return {
    async stop() {
      await runtime.stop();
      await tracing.shutdown();
    },
  };
});
