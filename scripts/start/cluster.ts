import type { BalancedPort } from "@berth/testkit/engines";
import { METRICS_PORTS, portFromEnv, type ServiceSpec } from "./services.js";

/** Replicas of every service that `npm run start:cluster` runs. */
export const CLUSTER_REPLICAS = 2;

/** One replica of a service: its own ports, and what sets it apart from its twin. */
export interface ServiceReplica {
  /** e.g. gateway-2: the name of its log file and of its HAProxy server. */
  label: string;
  /** The service with this replica's own listening port. */
  spec: ServiceSpec;
  /** Variables on top of the service's environment (metrics and bridge ports, runtime name). */
  env: Record<string, string>;
}

/**
 * The replicas behind each service's usual port (`fronts`, where HAProxy listens and where the
 * services call each other): replica n of a gRPC service listens n thousand ports higher
 * (registry 51051 and 52051 behind 50051), gateway replicas right above the gateway's port
 * (8081, 8082 behind 8080).
 */
export function clusterReplicas(fronts: readonly ServiceSpec[]): ServiceReplica[] {
  const replicas: ServiceReplica[] = [];
  for (const front of fronts) {
    for (let n = 1; n <= CLUSTER_REPLICAS; n++) {
      const port = front.name === "gateway" ? front.port + n : front.port + 1_000 * n;
      const base = METRICS_PORTS[front.name];
      const metrics =
        base === undefined
          ? undefined
          : portFromEnv(`BERTH_${front.name.toUpperCase()}_METRICS_PORT`, base);
      replicas.push({
        label: `${front.name}-${n}`,
        spec: { ...front, port },
        env: {
          // Every stream and bucket on all three NATS nodes.
          NATS_STREAM_REPLICAS: "3",
          ...(metrics === undefined ? {} : { METRICS_PORT: String(metrics + 10 * n) }),
          ...(front.name === "runtime"
            ? {
                BRIDGE_PORT: String(portFromEnv("BERTH_BRIDGE_PORT", 50054) + 1_000 * n),
                // Runtimes own workloads by lease under their names; both use the local engine.
                BERTH_RUNTIME_NAME: `runtime-${n}`,
              }
            : {}),
        },
      });
    }
  }
  return replicas;
}

/**
 * HAProxy's ports: each service's usual port in front of its replicas. The gateways are in
 * service while GET /readyz answers 200; the internal services while they accept connections.
 */
export function balancedPorts(
  fronts: readonly ServiceSpec[],
  replicas: readonly ServiceReplica[],
): BalancedPort[] {
  return fronts.map((front) => ({
    name: front.name,
    bind: `127.0.0.1:${front.port}`,
    servers: replicas
      .filter((replica) => replica.spec.name === front.name)
      .map((replica) => ({ name: replica.label, address: `127.0.0.1:${replica.spec.port}` })),
    ...(front.name === "gateway" ? { readiness: "/readyz" } : {}),
  }));
}

/** The three NATS nodes' client ports (from BERTH_NATS_PORT up) and route ports (6222 up). */
export function natsClusterPorts(natsPort: number): { ports: number[]; clusterPorts: number[] } {
  const route = portFromEnv("BERTH_NATS_CLUSTER_PORT", 6222);
  return {
    ports: [0, 1, 2].map((n) => natsPort + n),
    clusterPorts: [0, 1, 2].map((n) => route + n),
  };
}
