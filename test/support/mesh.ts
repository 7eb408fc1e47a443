import { randomBytes } from "node:crypto";
import {
  createLogger,
  type EnvSchema,
  type Logger,
  loadConfig,
  type MeshIdentity,
} from "@berth/platform";
import { createMeshAuthority, type MeshAuthority, meshIdentityEnv } from "@berth/platform/mesh-pki";
import type { Engines } from "@berth/testkit";

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
  /** The test CA: identity("gateway") calls the services' internal ports as the gateway. */
  authority: MeshAuthority;
  stop(): Promise<void>;
}

/** What a test mesh needs of the engines (useEngines() gives all of it). */
export type MeshEngines = Pick<
  Engines,
  "databaseUrl" | "natsUrl" | "natsServiceUrl" | "natsPasswords"
>;

let authority: MeshAuthority | undefined;

/**
 * The test file's throwaway mesh CA: every harness in one file issues from it, so services
 * started by different harnesses trust each other (and nothing from another CA).
 */
export function testMeshAuthority(): MeshAuthority {
  authority ??= createMeshAuthority();
  return authority;
}

/** The certificate and key a test presents to call a service as `service` (e.g. "gateway"). */
export function meshIdentity(service: string): MeshIdentity {
  return testMeshAuthority().identity(service);
}

/**
 * The variables that make a process `service` on the mesh: its certificate from the test CA
 * and its own NATS user (the services log in to NATS without the test kit's admin user).
 */
export function serviceMeshEnv(
  service: "registry" | "instances" | "runtime" | "gateway",
  engines: MeshEngines,
): Record<string, string> {
  return {
    ...meshIdentityEnv(meshIdentity(service)),
    NATS_URL: engines.natsServiceUrl,
    NATS_USER: service,
    NATS_PASSWORD: engines.natsPasswords[service],
  };
}

/** A quiet logger for tests; LOG_LEVEL=debug shows everything. */
export function testLogger(service: string): Logger {
  return createLogger({ service, level: process.env.LOG_LEVEL ?? "warn" });
}

/**
 * The environment variables of a test mesh: engines, free ports and fresh credentials
 * (an AES-256 key for instance secrets, the gateway's first admin API key). Each service adds
 * its own mesh identity and NATS user (serviceMeshEnv).
 */
export function meshEnv(engines: MeshEngines): Record<string, string> {
  return {
    DATABASE_URL: engines.databaseUrl,
    NATS_URL: engines.natsServiceUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    BERTH_SECRET_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    BERTH_BOOTSTRAP_API_KEY: `berth_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`,
  };
}

// Every service package exports `<name>Env` (its zod schema) and `start<Name>(config, logger)`.
type ServiceModule = Record<string, unknown>;
async function startService(
  name: "registry" | "instances" | "runtime" | "gateway",
  env: Record<string, string>,
  engines: MeshEngines,
): Promise<StartedService> {
  const module = (await import(`@berth/${name}`)) as ServiceModule;
  const schema = module[`${name}Env`] as EnvSchema;
  const start = module[`start${name[0]!.toUpperCase()}${name.slice(1)}`] as (
    config: unknown,
    logger: Logger,
  ) => Promise<StartedService>;
  return start(loadConfig(schema, { ...env, ...serviceMeshEnv(name, engines) }), testLogger(name));
}

/**
 * Starts the named services in dependency order (registry, instances, runtime), then the
 * gateway in front of them; services left out are unreachable addresses for the others.
 */
export async function startMesh(
  engines: MeshEngines,
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
      services[name] = await startService(name, env, engines);
      env[`${name.toUpperCase()}_ADDR`] = `127.0.0.1:${services[name].port}`;
    }
    const gateway = (await startService("gateway", env, engines)) as StartedService & {
      url: string;
    };
    return {
      services,
      gateway,
      apiKey: env.BERTH_BOOTSTRAP_API_KEY!,
      env,
      authority: testMeshAuthority(),
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
