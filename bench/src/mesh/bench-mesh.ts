import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createMeshAuthority, type MeshAuthority, meshIdentityEnv } from "@berth/platform/mesh-pki";
import { withoutCredentials } from "@berth/testkit";
import { BENCH_NATS_PASSWORDS } from "./engines.js";
import { type ServiceProcess, startServiceProcess } from "./service-process.js";

/** The services of a bench mesh. */
export type ServiceName = "registry" | "instances" | "runtime" | "gateway";

/** Berth's services, each its own process, over the given engines. */
export interface BenchMesh {
  services: Partial<Record<ServiceName, ServiceProcess>>;
  /** The gateway's base URL (when it runs). */
  gatewayUrl: string;
  /** The gateway's admin API key. */
  apiKey: string;
  /** The mesh CA: identity("gateway") calls the services' internal ports as the gateway. */
  authority: MeshAuthority;
  /** host:port of a service's gRPC API. */
  address(name: Exclude<ServiceName, "gateway">): string;
  /** The environment a service of this mesh runs with (its identity, engines, peers). */
  envOf(name: ServiceName): Record<string, string>;
  /** Starts one more gateway over the same services and keys (a diagnostic variant). */
  extraGateway(
    name: string,
    nodeArgs: string[],
    env?: Record<string, string>,
  ): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Options of startBenchMesh. */
export interface BenchMeshOptions {
  databaseUrl: string;
  natsUrl: string;
  root: string;
  logDir: string;
  /** Label on every container and network the runtime creates (berth.bench=<runId>). */
  runId: string;
  services: readonly ServiceName[];
  env?: Record<string, string>;
  /** Extra node options per service (e.g. a preload for an experiment). */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
}

const ORDER: readonly ServiceName[] = ["registry", "instances", "runtime", "gateway"];

/**
 * Starts the chosen services in dependency order, as processes, with the production defaults
 * except where a benchmark needs otherwise: the gateway's per-key rate limit is lifted (a load
 * generator is one key) and the runtime labels its containers with the run id.
 */
export async function startBenchMesh(options: BenchMeshOptions): Promise<BenchMesh> {
  const apiKey = `berth_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    NATS_URL: withoutCredentials(options.natsUrl),
    LOG_LEVEL: "info",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    BERTH_SECRET_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    BERTH_BOOTSTRAP_API_KEY: apiKey,
    BERTH_RUNTIME_LABELS: `berth.bench=${options.runId}`,
    RATE_LIMIT_PER_SECOND: "1000000",
    RATE_LIMIT_BURST: "1000000",
    REGISTRY_ADDR: "127.0.0.1:1",
    INSTANCES_ADDR: "127.0.0.1:1",
    RUNTIME_ADDR: "127.0.0.1:1",
    ...options.env,
  };
  const authority = createMeshAuthority();
  // Each service runs as itself: its certificate from the bench's CA and its own NATS user.
  const envOf = (name: ServiceName) => ({
    ...env,
    ...meshIdentityEnv(authority.identity(name)),
    NATS_USER: name,
    NATS_PASSWORD: BENCH_NATS_PASSWORDS[name],
  });
  const services: Partial<Record<ServiceName, ServiceProcess>> = {};
  const extras: ServiceProcess[] = [];
  const stop = async () => {
    for (const extra of extras) await extra.stop();
    for (const name of [...ORDER].reverse()) await services[name]?.stop();
  };
  try {
    for (const name of ORDER) {
      if (!options.services.includes(name)) continue;
      const started = await startServiceProcess(name, envOf(name), {
        cwd: options.root,
        logFile: join(options.logDir, `${name}.log`),
        nodeArgs: options.nodeArgs?.[name],
      });
      services[name] = started;
      if (name !== "gateway") env[`${name.toUpperCase()}_ADDR`] = `127.0.0.1:${started.port}`;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    services,
    gatewayUrl: services.gateway ? `http://127.0.0.1:${services.gateway.port}` : "",
    apiKey,
    authority,
    address(name) {
      const service = services[name];
      if (!service) throw new Error(`${name} is not part of this mesh`);
      return `127.0.0.1:${service.port}`;
    },
    envOf,
    async extraGateway(name, nodeArgs, env = {}) {
      const gateway = await startServiceProcess(
        "gateway",
        { ...envOf("gateway"), ...env },
        {
          cwd: options.root,
          logFile: join(options.logDir, `${name}.log`),
          nodeArgs,
        },
      );
      extras.push(gateway);
      return gateway;
    },
    stop,
  };
}
