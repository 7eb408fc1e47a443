import { fileURLToPath } from "node:url";
import { failpoint, GUARD_HEADER } from "@berth/platform";
import type Docker from "dockerode";
import type { DockerSpec } from "../../spec/types.js";
import type {
  LogLine,
  ObservedWorkload,
  StdioChannel,
  WorkloadDriver,
  WorkloadHandle,
  WorkloadRequest,
} from "../types.js";
import { ensureBridgeNetwork } from "./bridge-network.js";
import {
  attachStdinOnly,
  attachStdio,
  containerExit,
  inspectImage,
  removeContainer as removeOne,
} from "./container-io.js";
import {
  containerOptions,
  containerUser,
  launcherArgv,
  secretsLine,
  serverPort,
} from "./container-options.js";
import { dockerStatus, engineCall, ignoreGone } from "./docker-client.js";
import { logLines } from "./docker-logs.js";
import {
  containerName,
  edgeNetworkName,
  guardName,
  LABELS,
  type LabelContext,
  networkName,
  scopeFilters,
  workloadLabels,
} from "./labels.js";
import { guardCredential, guardEndpoint, startPortGuard } from "./port-guard.js";

/** The secret launcher beside this code, mounted read-only into containers that get secrets. */
const LAUNCHER_PATH = fileURLToPath(new URL("./launcher/berth-launch.cjs", import.meta.url));

/** The Docker driver: one hardened container (and network) per instance. */
export interface DockerDriver extends WorkloadDriver<DockerSpec> {
  /** Ends the runtime's waits and attachments; containers keep running. */
  close(): void;
}

/** Options of createDockerDriver. */
export interface DockerDriverOptions {
  /** The port guard's image (berth/mcp-guard:1). */
  guardImage: string;
  /**
   * The key the per-instance guard credentials are derived from (HMAC over instance and
   * generation): stable across runtime restarts, so adopted guards keep working.
   */
  guardSecret: string;
  /**
   * The launcher's path on the Docker engine's host, when that is not where this code runs (a
   * runtime in a container: deploy/compose copies the launcher to the host). Default: the file
   * beside this code.
   */
  launcherPath?: string;
}

/**
 * Creates the Docker driver over a dockerode client, owning objects labelled with the scope. An
 * HTTP server runs on its instance's internal network with no published port; a port guard
 * container publishes 127.0.0.1:<port> and lets through only connections that open with the
 * instance's credential (handed out in the handle's headers under GUARD_HEADER).
 */
export function createDockerDriver(
  docker: Docker,
  labels: LabelContext,
  driverOptions: DockerDriverOptions,
): DockerDriver {
  const shutdown = new AbortController();
  const credentialOf = (instanceId: string, generation: number) =>
    guardCredential(driverOptions.guardSecret, instanceId, generation);

  const observed = (info: Docker.ContainerInfo): ObservedWorkload => ({
    instanceId: info.Labels[LABELS.instance] ?? "",
    generation: Number(info.Labels[LABELS.generation] ?? 0),
    containerId: info.Id,
    running: info.State === "running",
  });
  /** Every container of the scope (or instance): servers and their guards. */
  const allContainers = async (instanceId?: string) =>
    (await docker.listContainers({ all: true, filters: scopeFilters(labels, instanceId) })).map(
      (info) => ({ ...observed(info), guard: info.Labels[LABELS.role] === "guard" }),
    );
  /** The workloads: servers' containers, not their guards. */
  const listContainers = async (instanceId?: string): Promise<ObservedWorkload[]> =>
    (await allContainers(instanceId))
      .filter((c) => !c.guard)
      .map(({ guard: _, ...workload }) => workload);
  const removeContainer = (id: string) => removeOne(docker, id);
  const ensureNetwork = (
    instanceId: string,
    name: string,
    internal: boolean,
    masquerade: boolean,
  ) =>
    ensureBridgeNetwork(docker, {
      name,
      labels: workloadLabels(labels, instanceId),
      internal,
      masquerade,
    });
  const imageConfig = (image: string) => inspectImage(docker, image);
  const exitOf = (container: Docker.Container) => containerExit(container, shutdown.signal);
  const stdinOnly = (container: Docker.Container) => attachStdinOnly(container, shutdown.signal);
  const attach = (container: Docker.Container) => attachStdio(docker, container, shutdown.signal);

  /** Takes over a running container of this generation (after a runtime restart). */
  async function adopt(
    request: WorkloadRequest<DockerSpec>,
    existing: ObservedWorkload,
  ): Promise<WorkloadHandle | undefined> {
    const container = docker.getContainer(existing.containerId);
    const info = await container.inspect();
    if (request.spec.transport === "stdio") {
      // stdin stayed open (StdinOnce false): attach again; the server keeps its state.
      if (!info.Config.OpenStdin || info.Config.StdinOnce) return undefined;
      return handle(request, container, info.Id, "", true, await attach(container));
    }
    // An http server is reached through its guard of the same generation.
    const guardInfo = await docker
      .getContainer(guardName(request.instanceId, request.generation))
      .inspect()
      .catch(() => undefined);
    if (!guardInfo?.State.Running) return undefined;
    const endpoint = guardEndpoint(guardInfo, request.spec.path);
    if (!endpoint) return undefined;
    const guard = docker.getContainer(guardInfo.Id);
    return handle(request, container, info.Id, endpoint, true, undefined, guard);
  }

  function handle(
    request: WorkloadRequest<DockerSpec>,
    container: Docker.Container,
    containerId: string,
    endpoint: string,
    adopted: boolean,
    stdio?: StdioChannel,
    guard?: Docker.Container,
  ): WorkloadHandle {
    const exited = guard
      ? Promise.race([exitOf(container), exitOf(guard).then((why) => `port guard: ${why}`)])
      : exitOf(container);
    return {
      instanceId: request.instanceId,
      generation: request.generation,
      driver: "docker",
      endpoint,
      headers: guard
        ? { [GUARD_HEADER]: credentialOf(request.instanceId, request.generation) }
        : {},
      containerId,
      stdio,
      adopted,
      exited,
      restartable: true,
    };
  }

  /** Starts the port guard of an http server (port-guard.ts), on the server's bridge network. */
  function startGuard(
    request: WorkloadRequest<DockerSpec>,
    serverNetwork: string,
    port: number,
  ): Promise<Docker.Container> {
    const { instanceId, generation } = request;
    return startPortGuard(docker, {
      name: guardName(instanceId, generation),
      labels: { ...workloadLabels(labels, instanceId, generation), [LABELS.role]: "guard" },
      image: driverOptions.guardImage,
      edgeNetwork: edgeNetworkName(instanceId),
      edgeLabels: workloadLabels(labels, instanceId),
      serverNetwork,
      upstreamPort: port,
      credential: credentialOf(instanceId, generation),
      signal: shutdown.signal,
    });
  }

  async function create(request: WorkloadRequest<DockerSpec>): Promise<WorkloadHandle> {
    const { spec, instanceId, generation } = request;
    const image = await imageConfig(spec.image);
    const port = serverPort(spec, image);
    const secretEnv = request.secretEnv ?? {};
    const argv = launcherArgv(spec, image, secretEnv);
    const launcher = argv
      ? { hostPath: driverOptions.launcherPath ?? LAUNCHER_PATH, ...argv }
      : undefined;
    const network =
      spec.transport === "stdio"
        ? "none"
        : await ensureNetwork(
            instanceId,
            networkName(instanceId),
            !spec.networkEgress,
            spec.networkEgress,
          );
    const options = containerOptions(request, {
      name: containerName(instanceId, generation),
      labels: workloadLabels(labels, instanceId, generation),
      network,
      user: containerUser(spec.user),
      port,
      ...(launcher ? { launcher } : {}),
    });
    let container: Docker.Container;
    try {
      container = await docker.createContainer(options);
    } catch (error) {
      if (dockerStatus(error) !== 409) throw error;
      // A container of this name survived an earlier attempt: replace it.
      await removeContainer(options.name!);
      container = await docker.createContainer(options);
    }
    failpoint("runtime.after-container-create");
    try {
      const stdio = spec.transport === "stdio" ? await attach(container) : undefined;
      const sendSecrets = launcher && !stdio ? await stdinOnly(container) : undefined;
      await container.start();
      if (launcher) {
        // The first stdin line, read by the launcher before the server starts: the values
        // live only in the server's memory, not in the container's config or on disk.
        const line = secretsLine(secretEnv);
        if (stdio) stdio.stdin.write(line);
        else await sendSecrets!(line);
      }
      failpoint("runtime.after-container-start");
      if (stdio) return handle(request, container, container.id, "", false, stdio);
      const guard = await startGuard(request, network, port!);
      const endpoint = guardEndpoint(await guard.inspect(), spec.path);
      if (endpoint === undefined) throw new Error("the guard's published port is missing");
      return handle(request, container, container.id, endpoint, false, undefined, guard);
    } catch (error) {
      await removeContainer(container.id).catch(() => undefined);
      await removeContainer(guardName(instanceId, generation)).catch(() => undefined);
      throw error;
    }
  }

  async function collectGarbage(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const container of await allContainers()) {
      if (keep.has(container.instanceId)) continue;
      await removeContainer(container.containerId);
      removed += 1;
    }
    const networks = await docker.listNetworks({ filters: scopeFilters(labels) });
    for (const network of networks) {
      if (keep.has(network.Labels?.[LABELS.instance] ?? "")) continue;
      await ignoreGone(() => docker.getNetwork(network.Id).remove());
      removed += 1;
    }
    return removed;
  }

  return {
    name: "docker",
    ensure: (request) =>
      engineCall(async () => {
        const existing = await listContainers(request.instanceId);
        // A running server of this generation is taken over (after a runtime restart).
        const current = existing.filter((c) => c.generation === request.generation && c.running);
        if (existing.length === 1 && current.length === 1) {
          const adopted = await adopt(request, current[0]!);
          if (adopted) return adopted;
        }
        for (const container of await allContainers(request.instanceId)) {
          await removeContainer(container.containerId);
        }
        return create(request);
      }),
    remove: (instanceId) =>
      engineCall(async () => {
        for (const container of await allContainers(instanceId)) {
          await removeContainer(container.containerId);
        }
        await ignoreGone(() => docker.getNetwork(networkName(instanceId)).remove());
        await ignoreGone(() => docker.getNetwork(edgeNetworkName(instanceId)).remove());
      }),
    // No container is left (server and port guard): their memory and pids go back. The networks
    // stay, so the wake-up's ensure skips making them.
    sleep: (instanceId) =>
      engineCall(async () => {
        for (const container of await allContainers(instanceId)) {
          await removeContainer(container.containerId);
        }
      }),
    inspect: (instanceId) => engineCall(() => listContainers(instanceId)),
    list: () => engineCall(() => listContainers()),
    collectGarbage: (keep) => engineCall(() => collectGarbage(keep)),
    async *logs(instanceId, options) {
      const containers = await listContainers(instanceId);
      const latest = containers.sort((a, b) => b.generation - a.generation)[0];
      if (!latest) return;
      const container = docker.getContainer(latest.containerId);
      const common = { stdout: true, stderr: true, timestamps: true, tail: options.tailLines };
      const source = options.follow
        ? await container.logs({ ...common, follow: true, abortSignal: options.signal })
        : await container.logs({ ...common, follow: false });
      yield* logLines(source as never) as AsyncIterable<LogLine>;
    },
    close: () => shutdown.abort(),
  };
}
