import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { addressVar, baseEnv, flagVar, portVar } from "@berth/platform";
import { z } from "zod";
import { PLACEMENT_PATTERN } from "./drivers/engine-placement.js";

const LOOPBACK = ["127.0.0.1", "::1", "localhost"] as const;

/** The runtime's environment variables. */
export const runtimeEnv = z.object({
  ...baseEnv,
  GRPC_PORT: portVar(50053),
  /** The instances service, asked for secret values when a workload starts. */
  INSTANCES_ADDR: addressVar("127.0.0.1:50052"),
  /** unix:///path/docker.sock or tcp://host:port; the local socket when unset. */
  DOCKER_HOST: z
    .string()
    .regex(/^(unix|tcp|http):\/\//, "must start with unix://, tcp:// or http://")
    .optional(),
  /** The kubeconfig file(s) of the Kubernetes driver (default: the pod's service account). */
  KUBECONFIG: z.string().optional(),
  /** The namespace of the Kubernetes driver's objects (default: the runtime pod's own). */
  BERTH_KUBERNETES_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name")
    .optional(),
  /** The namespace of the pods labelled berth.mcp-client=true that may reach HTTP servers. */
  BERTH_KUBERNETES_CLIENT_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes namespace name")
    .optional(),
  /** Where the stdio bridge listens: loopback only. */
  BRIDGE_HOST: z.enum(LOOPBACK, { message: "must be a loopback address" }).default("127.0.0.1"),
  BRIDGE_PORT: portVar(0),
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(500).default(30_000),
  RESTART_BACKOFF_MS: z.coerce.number().int().min(10).default(1_000),
  RESTART_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(30_000),
  RESTART_MAX_ATTEMPTS: z.coerce.number().int().min(0).default(5),
  /**
   * The idle policy's default for docker instances whose json_spec and catalog entry name none:
   * seconds without MCP traffic before the workload is stopped (IDLE). 0: never idle.
   */
  RUNTIME_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(2_592_000).default(0),
  /** How long an MCP request waits for an idle instance to wake before it is answered 503. */
  RUNTIME_WAKE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(60),
  /** Which containers this runtime owns; defaults to a hash of DATABASE_URL (its workloads). */
  BERTH_RUNTIME_SCOPE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,63}$/, "must be 1-63 letters, digits, '.', '_' or '-'")
    .optional(),
  /**
   * The instances service's endpoint policy, applied again when the health probe dials a url
   * instance by name (createGuardedLookup): a name that resolves inside is refused at connect time.
   */
  BERTH_ALLOW_LOOPBACK_ENDPOINTS: flagVar(true),
  BERTH_ALLOW_PRIVATE_ENDPOINTS: flagVar(false),
  /** The port guard's image (deploy/images/build-mcp-images.sh builds it). */
  BERTH_GUARD_IMAGE: z.string().min(1).default("berth/mcp-guard:1"),
  /**
   * The container engine of instances whose json_spec is of type docker: docker (one container
   * per instance on DOCKER_HOST), swarm (one Swarm service per instance; the engine must be a
   * Swarm manager whose tasks run on it) or kubernetes (one Deployment per instance; KUBECONFIG,
   * else the pod's service account). Engines register in src/drivers/engines.ts.
   */
  BERTH_RUNTIME_DOCKER_DRIVER: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/, "must be an engine name such as docker or swarm")
    .default("docker"),
  /**
   * Optional placement by instance name: engine=glob rules separated by commas, first match
   * wins, the rest go to BERTH_RUNTIME_DOCKER_DRIVER (e.g. swarm=team-a-*,docker=dev-*).
   */
  BERTH_RUNTIME_PLACEMENT: z
    .string()
    .regex(PLACEMENT_PATTERN, "must be engine=glob rules separated by commas")
    .optional(),
  /**
   * Where the Docker engine finds the secret launcher on its host (an absolute path), when the
   * runtime itself runs in a container: deploy/compose puts it in BERTH_COMPOSE_HOME/launcher.
   */
  BERTH_LAUNCHER_PATH: z
    .string()
    .regex(/^\/[^\0]*\.cjs$/, "must be an absolute path to a .cjs file")
    .optional(),
  /**
   * This runtime's name among the runtimes sharing one database (unique, stable across restarts:
   * a runtime started again under its name takes its workloads back at once). Default: the host
   * name, which suits one runtime per host.
   */
  BERTH_RUNTIME_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,63}$/, "must be 1-63 letters, digits, '.', '_' or '-'")
    .optional(),
  /**
   * The engine (Docker host) this runtime's workloads are placed on. Runtimes naming the same
   * engine adopt each other's containers when one dies; a workload of a dead engine is started
   * again on a survivor's own. Default: DOCKER_HOST when it is tcp:// (reachable from several
   * hosts), else this host's name and the local socket.
   */
  BERTH_RUNTIME_ENGINE: z.string().min(1).max(255).optional(),
  /**
   * How long a runtime's lease lasts without a renewal (renewed every third of it): a dead
   * runtime's workloads are owned again by a survivor within about this time.
   */
  RUNTIME_LEASE_TTL_MS: z.coerce.number().int().min(1_000).max(300_000).default(10_000),
  /**
   * Where peers reach this runtime's RuntimeService (host:port) when a request for an instance it
   * owns reaches another runtime. Default: 127.0.0.1 and the bound GRPC_PORT (one machine).
   */
  RUNTIME_ADVERTISE_ADDR: z
    .string()
    .regex(/^[A-Za-z0-9_.:[\]-]+:\d{1,5}$/, "must be host:port")
    .optional(),
  /** Extra labels on every container and network, as k=v,k2=v2 (tests tag their runs). */
  BERTH_RUNTIME_LABELS: z
    .string()
    .regex(
      /^([A-Za-z0-9_.-]+=[A-Za-z0-9_.:-]*)(,[A-Za-z0-9_.-]+=[A-Za-z0-9_.:-]*)*$/,
      "must be k=v,k2=v2",
    )
    .optional(),
});

/** The runtime's configuration. */
export type RuntimeConfig = z.infer<typeof runtimeEnv>;

/** The scope label value: explicit, or derived from the database the workloads live in. */
export function runtimeScope(config: RuntimeConfig): string {
  if (config.BERTH_RUNTIME_SCOPE) return config.BERTH_RUNTIME_SCOPE;
  const url = new URL(config.DATABASE_URL);
  url.password = "";
  return `db-${createHash("sha256").update(url.toString()).digest("hex").slice(0, 12)}`;
}

/** This runtime's name among its peers (BERTH_RUNTIME_NAME, else the host name). */
export function runtimeName(config: RuntimeConfig): string {
  if (config.BERTH_RUNTIME_NAME) return config.BERTH_RUNTIME_NAME;
  return (
    hostname()
      .replace(/[^A-Za-z0-9_.-]/g, "-")
      .slice(0, 63) || "runtime"
  );
}

/** The engine its workloads are placed on (BERTH_RUNTIME_ENGINE, else derived from DOCKER_HOST). */
export function runtimeEngine(config: RuntimeConfig): string {
  if (config.BERTH_RUNTIME_ENGINE) return config.BERTH_RUNTIME_ENGINE;
  const host = config.DOCKER_HOST;
  if (host && !host.startsWith("unix://")) return host;
  return `${hostname()}:${host ?? "unix:///var/run/docker.sock"}`;
}

/** The extra labels of BERTH_RUNTIME_LABELS as a record. */
export function extraLabels(config: RuntimeConfig): Record<string, string> {
  if (!config.BERTH_RUNTIME_LABELS) return {};
  return Object.fromEntries(
    config.BERTH_RUNTIME_LABELS.split(",").map((pair) => {
      const at = pair.indexOf("=");
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
