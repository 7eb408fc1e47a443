import { type Gateway, startGateway } from "@berth/gateway";
import { createLogger, type Logger } from "@berth/platform";
import { type Registry, startRegistry } from "@berth/registry";

/** The in-process mesh of an integration test: each service as it runs in production. */
export interface TestMesh {
  registry: Registry;
  gateway: Gateway;
  stop(): Promise<void>;
}

/** A quiet logger for tests; LOG_LEVEL=debug shows everything. */
export function testLogger(service: string): Logger {
  return createLogger({ service, level: process.env.LOG_LEVEL ?? "warn" });
}

/** Starts registry and gateway against the given engines on free ports. */
export async function startMesh(engines: {
  databaseUrl: string;
  natsUrl: string;
}): Promise<TestMesh> {
  const base = {
    LOG_LEVEL: "warn" as const,
    DATABASE_URL: engines.databaseUrl,
    NATS_URL: engines.natsUrl,
  };
  const registry = await startRegistry({ ...base, GRPC_PORT: 0 }, testLogger("registry"));
  const gateway = await startGateway(
    {
      LOG_LEVEL: "warn",
      NATS_URL: engines.natsUrl,
      HTTP_PORT: 0,
      HTTP_HOST: "127.0.0.1",
      REGISTRY_ADDR: `127.0.0.1:${registry.port}`,
      INSTANCES_ADDR: "127.0.0.1:1",
      RUNTIME_ADDR: "127.0.0.1:1",
      MAX_BODY_BYTES: 1024 * 1024,
    },
    testLogger("gateway"),
  );
  return {
    registry,
    gateway,
    async stop() {
      await gateway.stop();
      await registry.stop();
    },
  };
}
