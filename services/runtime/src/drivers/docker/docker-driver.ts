import { createHmac } from "node:crypto";
import { PassThrough, type Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { failpoint, GUARD_HEADER } from "@berth/platform";
import type Docker from "dockerode";
import type { DockerSpec } from "../../spec/types.js";
import {
  type LogLine,
  type ObservedWorkload,
  PermanentStartError,
  type StdioChannel,
  type WorkloadDriver,
  type WorkloadHandle,
  type WorkloadRequest,
} from "../types.js";
import {
  containerOptions,
  containerUser,
  GUARD_PORT,
  guardOptions,
  launchedArgv,
  secretsLine,
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
    createHmac("sha256", driverOptions.guardSecret)
      .update(`berth-guard\0${instanceId}\0${generation}`)
      .digest("hex");

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
  const removeContainer = (id: string) =>
    ignoreGone(() => docker.getContainer(id).remove({ force: true, v: true }));

  /**
   * One of an instance's networks, (re)made with the wanted `internal` flag:
   * - the server's network (networkName): unless the catalog entry asks for egress (then a plain
   *   bridge), `internal` (Docker drops its traffic to other networks) and with no IPv4 address
   *   on the host's side of the bridge (`inhibit_ipv4`): Docker 20.10 still gives containers of
   *   an internal network a default route to the bridge's address, through which every address
   *   of the host answered (tested). Without that address nothing on the host is reachable, and
   *   the host has no route to the server's address either;
   * - the edge network (edgeNetworkName), on which only the guard sits and publishes its port
   *   (Docker publishes no port of an internal network): no masquerading, so no route out.
   * Neither lets containers of other networks in.
   */
  async function ensureNetwork(
    instanceId: string,
    name: string,
    internal: boolean,
    masquerade: boolean,
  ): Promise<string> {
    const existing = await docker
      .getNetwork(name)
      .inspect()
      .catch((error: unknown) => {
        if (dockerStatus(error) === 404) return undefined;
        throw error;
      });
    const inhibited = existing?.Options?.["com.docker.network.bridge.inhibit_ipv4"] === "true";
    if (existing && Boolean(existing.Internal) === internal && inhibited === internal) return name;
    if (existing) await ignoreGone(() => docker.getNetwork(name).remove());
    try {
      await docker.createNetwork({
        Name: name,
        Driver: "bridge",
        CheckDuplicate: true,
        Internal: internal,
        Labels: workloadLabels(labels, instanceId),
        Options: {
          "com.docker.network.bridge.enable_ip_masquerade": String(masquerade),
          "com.docker.network.bridge.enable_icc": "true",
          ...(internal ? { "com.docker.network.bridge.inhibit_ipv4": "true" } : {}),
        },
      });
    } catch (error) {
      if (dockerStatus(error) !== 409) throw error; // 409: made meanwhile, which is fine
    }
    return name;
  }

  async function imageConfig(image: string): Promise<Docker.ImageInspectInfo> {
    try {
      return await docker.getImage(image).inspect();
    } catch (error) {
      if (dockerStatus(error) === 404) {
        throw new PermanentStartError(
          `image ${image} is not present on the Docker engine (Berth pulls nothing: build or load it first)`,
        );
      }
      throw error;
    }
  }

  /** Resolves with why the container ended; stays pending when the runtime shuts down. */
  function exitOf(container: Docker.Container): Promise<string> {
    return new Promise((resolve) => {
      container.wait({ condition: "not-running", abortSignal: shutdown.signal }).then(
        async (result: { StatusCode: number }) => {
          const state = await container.inspect().then(
            (info) => info.State,
            () => undefined,
          );
          if (state?.OOMKilled) resolve("container was killed: out of memory");
          else resolve(`container exited with code ${result.StatusCode}`);
        },
        () => {
          if (!shutdown.signal.aborted) resolve("container is gone");
        },
      );
    });
  }

  /**
   * A stdin-only attachment (made before start) through which the secrets line reaches the
   * launcher; ending it closes the http server's stdin (StdinOnce), which it does not read.
   */
  async function stdinOnly(container: Docker.Container): Promise<(line: string) => Promise<void>> {
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: false,
      stderr: false,
      hijack: true,
      abortSignal: shutdown.signal,
    })) as NodeJS.ReadWriteStream;
    stream.on("error", () => undefined); // the container may end first; its exit is reported
    return (line) =>
      new Promise<void>((resolve) => {
        stream.write(line, () => {
          stream.end();
          resolve();
        });
      });
  }

  async function attach(container: Docker.Container): Promise<StdioChannel> {
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
      abortSignal: shutdown.signal,
    })) as NodeJS.ReadWriteStream & { destroy(): void };
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.resume(); // stderr is in the container's logs; unread it would stall stdout
    docker.modem.demuxStream(stream, stdout, stderr);
    stream.on("end", () => stdout.end());
    stream.on("error", () => stdout.end());
    return {
      stdin: stream as unknown as Writable,
      stdout,
      close: () => stream.destroy(),
    };
  }

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
    const endpoint = endpointOf(guardInfo, request.spec.path);
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

  /**
   * Starts the port guard of an http server: on the edge network (its published port) and the
   * server's network (where it dials the server by alias); the credential goes in on stdin.
   */
  async function startGuard(
    request: WorkloadRequest<DockerSpec>,
    serverNetwork: string,
    port: number,
  ): Promise<Docker.Container> {
    const { instanceId, generation } = request;
    const edge = await ensureNetwork(instanceId, edgeNetworkName(instanceId), false, false);
    const options = guardOptions({
      name: guardName(instanceId, generation),
      labels: { ...workloadLabels(labels, instanceId, generation), [LABELS.role]: "guard" },
      image: driverOptions.guardImage,
      network: edge,
      upstreamPort: port,
    });
    await imageConfig(driverOptions.guardImage);
    let guard: Docker.Container;
    try {
      guard = await docker.createContainer(options);
    } catch (error) {
      if (dockerStatus(error) !== 409) throw error;
      await removeContainer(options.name!);
      guard = await docker.createContainer(options);
    }
    try {
      await docker.getNetwork(serverNetwork).connect({ Container: guard.id });
      const send = await stdinOnly(guard);
      await guard.start();
      await send(`${credentialOf(instanceId, generation)}\n`);
      return guard;
    } catch (error) {
      await removeContainer(guard.id).catch(() => undefined);
      throw error;
    }
  }

  async function create(request: WorkloadRequest<DockerSpec>): Promise<WorkloadHandle> {
    const { spec, instanceId, generation } = request;
    const image = await imageConfig(spec.image);
    let port: number | undefined;
    if (spec.transport === "http") {
      const exposed = Object.keys(image.Config?.ExposedPorts ?? {});
      port = spec.port ?? (exposed.length === 1 ? Number.parseInt(exposed[0]!, 10) : undefined);
      if (!port) {
        throw new PermanentStartError(
          `json_spec.port is required: image ${spec.image} does not expose exactly one port`,
        );
      }
    }
    const secretEnv = request.secretEnv ?? {};
    const hasSecrets = Object.keys(secretEnv).length > 0;
    const argv = hasSecrets ? launchedArgv(spec, image) : undefined;
    if (hasSecrets && !argv) {
      throw new PermanentStartError(
        `image ${spec.image} does not start its server with node: Berth delivers secret values only through its launcher, never in the container's environment`,
      );
    }
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
      const endpoint = endpointOf(await guard.inspect(), spec.path);
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

/** The loopback URL of a guard's published port, or undefined when it is not published. */
function endpointOf(info: Docker.ContainerInspectInfo, path: string): string | undefined {
  const binding = info.NetworkSettings?.Ports?.[`${GUARD_PORT}/tcp`]?.find(
    (b) => b.HostIp === "127.0.0.1",
  );
  return binding?.HostPort ? `http://127.0.0.1:${binding.HostPort}${path}` : undefined;
}
