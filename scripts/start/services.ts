import type { MeshCredentials } from "./credentials.js";

/** One Berth service as npm start runs it. */
export interface ServiceSpec {
  name: "registry" | "instances" | "runtime" | "gateway";
  /** The variable that carries its listening port. */
  portVariable: "GRPC_PORT" | "HTTP_PORT";
  port: number;
}

/** Start order: each service finds the ones it calls already listening. Default ports. */
export const SERVICES: readonly ServiceSpec[] = [
  { name: "registry", portVariable: "GRPC_PORT", port: 50051 },
  { name: "instances", portVariable: "GRPC_PORT", port: 50052 },
  { name: "runtime", portVariable: "GRPC_PORT", port: 50053 },
  { name: "gateway", portVariable: "HTTP_PORT", port: 8080 },
];

/**
 * The services with their ports, each overridable by BERTH_<NAME>_PORT (e.g. BERTH_GATEWAY_PORT)
 * so a second mesh (a test's) can run beside a developer's; throws on a value that is not a port.
 */
export function servicesFromEnv(): ServiceSpec[] {
  return SERVICES.map((s) => ({
    ...s,
    port: portFromEnv(`BERTH_${s.name.toUpperCase()}_PORT`, s.port),
  }));
}

/**
 * The loopback /metrics ports of the internal services (BERTH_<NAME>_METRICS_PORT overrides); the
 * gateway serves GET /metrics on its own port, to keys with the metrics scope.
 */
export const METRICS_PORTS: Readonly<Partial<Record<ServiceSpec["name"], number>>> = {
  registry: 9461,
  instances: 9462,
  runtime: 9463,
};

/** The gateway's address, where clients go. */
export function gatewayUrl(services: readonly ServiceSpec[]): string {
  return `http://127.0.0.1:${services.find((s) => s.name === "gateway")?.port}`;
}

/** The engines every service is pointed at. */
export interface EngineUrls {
  databaseUrl: string;
  natsUrl: string;
}

/**
 * The environment of one service: the parent's, plus engines, its own credentials (mesh
 * certificate, NATS user; the secrets key ring for the instances service only), its port and peers.
 */
export function serviceEnv(
  service: ServiceSpec,
  engines: EngineUrls,
  credentials: MeshCredentials,
  services: readonly ServiceSpec[] = SERVICES,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A port inherited from the shell would make two services fight over it.
  delete env.GRPC_PORT;
  delete env.HTTP_PORT;
  delete env.METRICS_PORT;
  // Credentials are handed out per service; one inherited from the shell must not leak across.
  for (const name of ["BERTH_MESH_CA", "BERTH_MESH_CERT", "BERTH_MESH_KEY", "NATS_USER"])
    delete env[name];
  delete env.NATS_PASSWORD;
  delete env.BERTH_SECRET_KEYS;
  delete env.BERTH_OAUTH_KEY_ENCRYPTION_KEYS;
  const address = (name: ServiceSpec["name"]) =>
    `127.0.0.1:${services.find((s) => s.name === name)?.port}`;
  return {
    ...env,
    DATABASE_URL: engines.databaseUrl,
    NATS_URL: engines.natsUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    ...credentials.identities[service.name],
    NATS_USER: service.name,
    NATS_PASSWORD: credentials.natsPasswords[service.name],
    ...(service.name === "instances" ? { BERTH_SECRET_KEYS: credentials.BERTH_SECRET_KEYS } : {}),
    ...(service.name === "gateway"
      ? { BERTH_OAUTH_KEY_ENCRYPTION_KEYS: credentials.BERTH_OAUTH_KEY_ENCRYPTION_KEYS }
      : {}),
    // A fixed bridge port: MCP sessions on stdio instances outlive a restart of the runtime.
    ...(service.name === "runtime"
      ? { BRIDGE_PORT: String(portFromEnv("BERTH_BRIDGE_PORT", 50054)) }
      : {}),
    REGISTRY_ADDR: address("registry"),
    INSTANCES_ADDR: address("instances"),
    RUNTIME_ADDR: address("runtime"),
    [service.portVariable]: String(service.port),
    ...(METRICS_PORTS[service.name] === undefined
      ? {}
      : {
          METRICS_PORT: String(
            portFromEnv(
              `BERTH_${service.name.toUpperCase()}_METRICS_PORT`,
              METRICS_PORTS[service.name]!,
            ),
          ),
        }),
  };
}

/** A port from an environment variable, or the default; throws on a value that is not a port. */
export function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name} must be a port number (1-65535)`);
  }
  return port;
}
