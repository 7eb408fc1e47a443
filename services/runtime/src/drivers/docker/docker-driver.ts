import { PassThrough, type Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { failpoint } from "@berth/platform";
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
import { containerOptions, containerUser, launchedArgv, secretsLine } from "./container-options.js";
import { dockerStatus, engineCall, ignoreGone } from "./docker-client.js";
import { logLines } from "./docker-logs.js";
import {
  containerName,
  LABELS,
  type LabelContext,
  networkName,
  scopeFilters,
  workloadLabels,
} from "./labels.js";

/** The secret launcher on this host, mounted read-only into containers that get secrets. */
const LAUNCHER_PATH = fileURLToPath(new URL("./launcher/berth-launch.cjs", import.meta.url));

/** The Docker driver: one hardened container (and network) per instance. */
export interface DockerDriver extends WorkloadDriver<DockerSpec> {
  /** Ends the runtime's waits and attachments; containers keep running. */
  close(): void;
}

/** Creates the Docker driver over a dockerode client, owning objects labelled with the scope. */
export function createDockerDriver(docker: Docker, labels: LabelContext): DockerDriver {
  const shutdown = new AbortController();

  const observed = (info: Docker.ContainerInfo): ObservedWorkload => ({
    instanceId: info.Labels[LABELS.instance] ?? "",
    generation: Number(info.Labels[LABELS.generation] ?? 0),
    containerId: info.Id,
    running: info.State === "running",
  });
  const listContainers = async (instanceId?: string) =>
    (await docker.listContainers({ all: true, filters: scopeFilters(labels, instanceId) })).map(
      observed,
    );
  const removeContainer = (id: string) =>
    ignoreGone(() => docker.getContainer(id).remove({ force: true, v: true }));

  /**
   * The instance's own bridge network for an http server. Docker 20.10 publishes no port of an
   * `internal` network, so the network is a bridge without masquerading (no route out to the
   * internet) and without inter-container traffic; the published loopback port stays usable.
   */
  async function ensureNetwork(instanceId: string): Promise<string> {
    const name = networkName(instanceId);
    try {
      await docker.createNetwork({
        Name: name,
        Driver: "bridge",
        CheckDuplicate: true,
        Labels: workloadLabels(labels, instanceId),
        Options: {
          "com.docker.network.bridge.enable_ip_masquerade": "false",
          "com.docker.network.bridge.enable_icc": "false",
        },
      });
    } catch (error) {
      if (dockerStatus(error) !== 409) throw error; // 409: it exists already, which is fine
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
    const endpoint = endpointOf(info, request.spec);
    if (!endpoint) return undefined;
    return handle(request, container, info.Id, endpoint, true);
  }

  function handle(
    request: WorkloadRequest<DockerSpec>,
    container: Docker.Container,
    containerId: string,
    endpoint: string,
    adopted: boolean,
    stdio?: StdioChannel,
  ): WorkloadHandle {
    return {
      instanceId: request.instanceId,
      generation: request.generation,
      driver: "docker",
      endpoint,
      headers: {},
      containerId,
      stdio,
      adopted,
      exited: exitOf(container),
      restartable: true,
    };
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
    const launcher = argv ? { hostPath: LAUNCHER_PATH, ...argv } : undefined;
    const options = containerOptions(request, {
      name: containerName(instanceId, generation),
      labels: workloadLabels(labels, instanceId, generation),
      network: spec.transport === "stdio" ? "none" : await ensureNetwork(instanceId),
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
      const info = await container.inspect();
      const endpoint = stdio ? "" : endpointOf(info, spec);
      if (endpoint === undefined) throw new Error("the published port is missing after start");
      return handle(request, container, info.Id, endpoint, false, stdio);
    } catch (error) {
      await removeContainer(container.id).catch(() => undefined);
      throw error;
    }
  }

  async function collectGarbage(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const container of await listContainers()) {
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
        for (const container of existing) await removeContainer(container.containerId);
        return create(request);
      }),
    remove: (instanceId) =>
      engineCall(async () => {
        for (const container of await listContainers(instanceId)) {
          await removeContainer(container.containerId);
        }
        await ignoreGone(() => docker.getNetwork(networkName(instanceId)).remove());
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

/** The loopback URL of a container's published port, or undefined when it is not published. */
function endpointOf(info: Docker.ContainerInspectInfo, spec: DockerSpec): string | undefined {
  const ports = info.NetworkSettings?.Ports ?? {};
  const key = spec.port ? `${spec.port}/tcp` : Object.keys(ports)[0];
  const binding = key ? ports[key]?.find((b) => b.HostIp === "127.0.0.1") : undefined;
  return binding?.HostPort ? `http://127.0.0.1:${binding.HostPort}${spec.path}` : undefined;
}
