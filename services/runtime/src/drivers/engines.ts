import type Docker from "dockerode";
import type { RuntimeConfig } from "../config.js";
import type { DockerDriverOptions } from "./docker/docker-driver.js";
import { createDockerDriver } from "./docker/docker-driver.js";
import type { LabelContext } from "./docker/labels.js";
import { parsePlacement } from "./engine-placement.js";
import { createEngineRouter, type EngineDriver } from "./engine-router.js";
import { createSwarmDriver } from "./swarm/swarm-driver.js";

/** What an engine's driver may be made from. */
export interface EngineContext {
  /** The local Docker engine (DOCKER_HOST). */
  docker: Docker;
  /** The runtime's scope labels. */
  labels: LabelContext;
  /** The port guard's image and key. */
  guard: DockerDriverOptions;
  /** The runtime's configuration, for an engine with settings of its own. */
  config: RuntimeConfig;
}

/**
 * The container engines a docker json_spec can run on, by the name BERTH_RUNTIME_DOCKER_DRIVER
 * and BERTH_RUNTIME_PLACEMENT use. A new engine registers here with one line.
 */
export const ENGINES: Record<
  string,
  (context: EngineContext) => EngineDriver | Promise<EngineDriver>
> = {
  docker: (context) => createDockerDriver(context.docker, context.labels, context.guard),
  swarm: (context) => createSwarmDriver(context.docker, context.labels, context.guard),
  // KUBECONFIG, else the pod's service account; see drivers/kubernetes. Loaded only when chosen:
  // its client takes seconds to import, which a Docker runtime need not pay.
  kubernetes: async ({ labels, config }) => {
    const { createKubernetesDriver, MCP_CLIENT_LABEL } = await import(
      "./kubernetes/kubernetes-driver.js"
    );
    return createKubernetesDriver({
      labels,
      env: { ...process.env, KUBECONFIG: config.KUBECONFIG },
      namespace: config.BERTH_KUBERNETES_NAMESPACE,
      ...(config.BERTH_KUBERNETES_CLIENT_NAMESPACE
        ? {
            clients: {
              namespace: config.BERTH_KUBERNETES_CLIENT_NAMESPACE,
              labels: { [MCP_CLIENT_LABEL]: "true" },
            },
          }
        : {}),
    });
  },
};

/**
 * The driver of docker json_specs: the engines the configuration names (the default and those of
 * placement rules), each made once, behind the router. Throws naming the variable when an engine
 * is unknown.
 */
export async function createContainerDriver(
  context: EngineContext,
  defaultEngine: string,
  placementRules: string | undefined,
): Promise<EngineDriver> {
  const placement = parsePlacement(defaultEngine, placementRules, Object.keys(ENGINES));
  const engines = new Map<string, EngineDriver>();
  for (const name of placement.engines) engines.set(name, await ENGINES[name]!(context));
  return createEngineRouter(engines, placement);
}
