import { startTracing } from "@berth/platform/tracing";

const tracing = startTracing({
  serviceName: "gateway",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const { loadConfig, runService } = await import("@berth/platform");
const { gatewayEnv } = await import("./config.js");
const { startGateway } = await import("./gateway-service.js");

await runService("gateway", async () => {
  const gateway = await startGateway(loadConfig(gatewayEnv));
  return {
    async stop() {
      await gateway.stop();
      await tracing.shutdown();
    },
  };
});
