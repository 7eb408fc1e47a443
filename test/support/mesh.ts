import { randomBytes } from "node:crypto";
import { createLogger, type EnvSchema, type Logger, loadConfig } from "@berth/platform";

/** A service of the mesh that runs behind the gateway. */
export type MeshService = "registry" | "instances" | "runtime";

/** One started service: its bound port and how to stop it. */
export interface StartedService {
  port: number;
  stop(): Promise<void>;
}

/** The in-process mesh of an integration test: each service as it runs in production. */
export interface TestMesh {
  services: Partial<Record<MeshService, StartedService>>;
  gateway: StartedService & { url: string };
  /** The gateway's bootstrap admin API key (BERTH_BOOTSTRAP_API_KEY): `authorization: Bearer <key>`. */
  apiKey: string;
  /** The environment every service was configured from (secrets for the test only). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** A quiet logger for tests; LOG_LEVEL=debug shows everything. */
export function testLogger(service: string): Logger {
  return createLogger({ service, level: process.env.LOG_LEVEL ?? "warn" });
}

/**
 * The environment variables of a test mesh: engines, free ports and fresh credentials
 * (an AES-256 key for instance secrets, the runtime's service token, the gateway's first admin
 * API key).
 */
export function meshEnv(engines: { databaseUrl: string; natsUrl: string }): Record<string, string> {
  return {
    DATABASE_URL: engines.databaseUrl,
    NATS_URL: engines.natsUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    BERTH_SECRET_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    BERTH_RUNTIME_TOKEN: randomBytes(32).toString("hex"),
    BERTH_BOOTSTRAP_API_KEY: `berth_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`,
  };
}

// Every service package exports `<name>Env` (its zod schema) and `start<Name>(config, logger)`.
type ServiceModule = Record<string, unknown>;
async function startService(name: string, env: Record<string, string>): Promise<StartedService> {
  const module = (await import(`@berth/${name}`)) as ServiceModule;
  const schema = module[`${name}Env`] as EnvSchema;
  const start = module[`start${name[0]!.toUpperCase()}${name.slice(1)}`] as (
    config: unknown,
    logger: Logger,
  ) => Promise<StartedService>;
  return start(loadConfig(schema, env), testLogger(name));
}

/**
 * Starts the named services in dependency order (registry, instances, runtime), then the
 * gateway in front of them; services left out are unreachable addresses for the others.
 */
export async function startMesh(
  engines: { databaseUrl: string; natsUrl: string },
  options: { services?: MeshService[]; env?: Record<string, string> } = {},
): Promise<TestMesh> {
  const wanted = options.services ?? ["registry"];
  const env: Record<string, string> = {
    ...meshEnv(engines),
    REGISTRY_ADDR: "127.0.0.1:1",
    INSTANCES_ADDR: "127.0.0.1:1",
    RUNTIME_ADDR: "127.0.0.1:1",
    ...options.env,
  };
  const services: Partial<Record<MeshService, StartedService>> = {};
  const stopAll = async () => {
    for (const name of ["runtime", "instances", "registry"] as const) await services[name]?.stop();
  };
  try {
    for (const name of ["registry", "instances", "runtime"] as const) {
      if (!wanted.includes(name)) continue;
      services[name] = await startService(name, env);
      env[`${name.toUpperCase()}_ADDR`] = `127.0.0.1:${services[name].port}`;
    }
    const gateway = (await startService("gateway", env)) as StartedService & { url: string };
    return {
      services,
      gateway,
      apiKey: env.BERTH_BOOTSTRAP_API_KEY!,
      env,
      async stop() {
        await gateway.stop();
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
