import { readFileSync } from "node:fs";
import { failpoint, GUARD_HEADER } from "@berth/platform";
import type Docker from "dockerode";
import type { DockerSpec } from "../../spec/types.js";
import {
  attachStdio,
  containerExit,
  inspectImage,
  removeContainer,
} from "../docker/container-io.js";
import {
  containerUser,
  launcherArgv,
  secretsLine,
  serverPort,
} from "../docker/container-options.js";
import { dockerStatus, ignoreGone, toDriverError } from "../docker/docker-client.js";
import type { DockerDriverOptions } from "../docker/docker-driver.js";
import { logLines } from "../docker/docker-logs.js";
import { LABELS, type LabelContext, scopeFilters, workloadLabels } from "../docker/labels.js";
import { guardCredential, guardEndpoint, startPortGuard } from "../docker/port-guard.js";
import {
  EngineUnavailableError,
  type LogLine,
  type ObservedWorkload,
  type StdioChannel,
  type WorkloadDriver,
  type WorkloadHandle,
  type WorkloadRequest,
  WorkloadStartError,
} from "../types.js";
import {
  launcherConfigName,
  overlayName,
  secretName,
  serviceName,
  serviceSpec,
  swarmEdgeName,
  swarmGuardName,
} from "./service-spec.js";

/** The launcher script, handed to tasks as a Swarm config (no host path on any node). */
const LAUNCHER = new URL("../docker/launcher/berth-launch.cjs", import.meta.url);

/** How long a new task may take to reach running (image present, one replica). */
const TASK_START_MS = 60_000;
/** How long removed tasks' containers may take to go, before their network is removed. */
const TASK_GONE_MS = 30_000;

/** Task states after which a task never runs again. */
const ENDED = new Set(["complete", "shutdown", "failed", "rejected", "orphaned", "remove"]);

/** The Swarm driver: one single-replica Swarm service (and overlay network) per instance. */
export interface SwarmDriver extends WorkloadDriver<DockerSpec> {
  /** Ends the runtime's waits and attachments; services keep running. */
  close(): void;
  /** Removes the instance's services, containers, secrets and configs; keeps its networks. */
  sleep(instanceId: string): Promise<void>;
}

/** A Swarm task as the engine lists it (the fields read here). */
interface Task {
  ID: string;
  ServiceID: string;
  CreatedAt: string;
  Status?: {
    State?: string;
    Err?: string;
    Message?: string;
    ContainerStatus?: { ContainerID?: string };
  };
}

/** A service of this scope with its newest task. */
interface ObservedService extends ObservedWorkload {
  serviceId: string;
  /** The task's container on this engine, when it has one. */
  taskContainerId: string | undefined;
}

/**
 * Creates the Swarm driver over a dockerode client of a Swarm manager whose tasks run on this
 * engine (a single-node Swarm: stdio is attached through the task's container, and the port
 * guard joins the overlay as a local container). It owns objects labelled berth.managed=swarm
 * with the runtime's scope: services, their task containers, overlay and edge networks, port
 * guards, secrets and configs. Nothing is published but the guard's port on 127.0.0.1.
 */
export function createSwarmDriver(
  docker: Docker,
  dockerLabels: LabelContext,
  driverOptions: DockerDriverOptions,
): SwarmDriver {
  const shutdown = new AbortController();
  const labels: LabelContext = { ...dockerLabels, managed: "swarm" };
  const credentialOf = (instanceId: string, generation: number) =>
    guardCredential(driverOptions.guardSecret, instanceId, generation);
  let launcherScript: Buffer | undefined;

  /**
   * Runs a Swarm call, raising the port's errors. Docker answers 503 both when the engine is in
   * no Swarm (a configuration to fix: said plainly in the instance's status) and when the Swarm
   * has no leader for now (wait for it, like an engine that does not answer).
   */
  async function swarmCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (dockerStatus(error) === 503) {
        if (/not a swarm manager/i.test(String((error as Error).message))) {
          throw new WorkloadStartError(
            "the Docker engine is not a Swarm manager: run `docker swarm init` on it, or set BERTH_RUNTIME_DOCKER_DRIVER=docker",
            { cause: error },
          );
        }
        throw new EngineUnavailableError("Docker Swarm", { cause: error });
      }
      throw toDriverError(error);
    }
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * Runs changes to one instance's objects one at a time: a removal that lists the instance's
   * services while another call is creating one would remove the new service under it (seen as
   * "service not found" while waiting for its task), and two creates would clash on its name.
   */
  const busy = new Map<string, Promise<unknown>>();
  function exclusive<T>(instanceId: string, change: () => Promise<T>): Promise<T> {
    const before = busy.get(instanceId) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(change);
    const settled = run.catch(() => undefined);
    busy.set(instanceId, settled);
    void settled.then(() => {
      if (busy.get(instanceId) === settled) busy.delete(instanceId);
    });
    return run;
  }

  /** The services of the scope (or one instance), each with its newest task. */
  async function listServices(instanceId?: string): Promise<ObservedService[]> {
    let services = await docker.listServices({ filters: scopeFilters(labels, instanceId) });
    let tasks: Task[] = [];
    for (let attempt = 1; services.length > 0; attempt += 1) {
      try {
        tasks = (await docker.listTasks({
          filters: { service: services.map((s) => s.ID) },
        })) as Task[];
        break;
      } catch (error) {
        // A service removed between the two calls fails the task list: list both again.
        if (attempt >= 3) throw error;
        services = await docker.listServices({ filters: scopeFilters(labels, instanceId) });
      }
    }
    if (services.length === 0) return [];
    return services.map((service) => {
      const task = tasks
        .filter((t) => t.ServiceID === service.ID)
        .sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt))[0];
      const serviceLabels = service.Spec?.Labels ?? {};
      const containerId = task?.Status?.ContainerStatus?.ContainerID || undefined;
      return {
        instanceId: serviceLabels[LABELS.instance] ?? "",
        generation: Number(serviceLabels[LABELS.generation] ?? 0),
        containerId: service.ID,
        running: task?.Status?.State === "running",
        serviceId: service.ID,
        taskContainerId: containerId,
      };
    });
  }

  const toObserved = ({ serviceId: _, taskContainerId: __, ...workload }: ObservedService) =>
    workload;

  /** Waits for the service's task to run; its container's ID. Ended or late: a start error. */
  async function runningTask(serviceId: string): Promise<string> {
    const deadline = Date.now() + TASK_START_MS;
    let last: Task | undefined;
    while (Date.now() < deadline && !shutdown.signal.aborted) {
      const tasks = (await docker.listTasks({ filters: { service: [serviceId] } })) as Task[];
      last = tasks.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt))[0];
      const state = last?.Status?.State ?? "";
      const containerId = last?.Status?.ContainerStatus?.ContainerID;
      if (state === "running" && containerId) return containerId;
      if (ENDED.has(state)) {
        throw new WorkloadStartError(
          `the Swarm task ended (${state}): ${last?.Status?.Err || last?.Status?.Message || "no reason given"}`,
        );
      }
      await sleep(100);
    }
    const state = last?.Status?.State ?? "not created";
    const why = last?.Status?.Err || last?.Status?.Message || "";
    throw new WorkloadStartError(
      `the Swarm task did not run within ${TASK_START_MS / 1000} s (${state}${why ? `: ${why}` : ""})`,
    );
  }

  /**
   * The instance's attachable overlay network: internal (no route off it) unless the catalog
   * entry asks for egress; stdio servers get an internal one with nothing else on it (Swarm
   * offers services no "none" network).
   */
  async function ensureOverlay(instanceId: string, internal: boolean): Promise<string> {
    const name = overlayName(instanceId);
    const existing = await docker
      .getNetwork(name)
      .inspect()
      .catch((error: unknown) => {
        if (dockerStatus(error) === 404) return undefined;
        throw error;
      });
    if (existing && Boolean(existing.Internal) === internal) return name;
    if (existing) await removeNetwork(name);
    try {
      await docker.createNetwork({
        Name: name,
        Driver: "overlay",
        CheckDuplicate: true,
        Attachable: true,
        Internal: internal,
        Labels: workloadLabels(labels, instanceId),
      });
    } catch (error) {
      if (dockerStatus(error) !== 409) throw error; // made meanwhile
    }
    return name;
  }

  /** Removes a network, waiting (bounded) while endpoints of ending tasks still hold it. */
  async function removeNetwork(name: string): Promise<void> {
    const deadline = Date.now() + TASK_GONE_MS;
    for (;;) {
      try {
        await ignoreGone(() => docker.getNetwork(name).remove());
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  /**
   * Removes everything of an instance, every generation (but its networks when it is being
   * replaced): services first, then their containers and the guards
   * (killed at once, as the Docker driver does), then networks, secrets and configs. Returns how
   * many objects were removed.
   */
  async function removeAll(instanceId: string, keepNetworks = false): Promise<number> {
    const filters = scopeFilters(labels, instanceId);
    let removed = 0;
    const services = await docker.listServices({ filters });
    for (const service of services) {
      await ignoreGone(() => docker.getService(service.ID).remove());
      removed += 1;
    }
    // Task containers (labelled like their service) and port guards.
    const deadline = Date.now() + TASK_GONE_MS;
    for (;;) {
      const containers = await docker.listContainers({ all: true, filters });
      if (containers.length === 0) break;
      // The agent may be removing a task's container too (409): listed again until gone.
      for (const container of containers) {
        await removeContainer(docker, container.Id).catch(() => undefined);
      }
      removed += containers.length;
      if (Date.now() > deadline) throw new Error("the instance's task containers do not go away");
      await sleep(100);
    }
    // A replacement keeps the networks: Swarm releases a removed task's overlay address a
    // while after its container is gone, which would hold up the removal for seconds.
    for (const network of keepNetworks ? [] : await docker.listNetworks({ filters })) {
      await removeNetwork(network.Name);
      removed += 1;
    }
    for (const secret of await docker.listSecrets({ filters })) {
      await ignoreGone(() => docker.getSecret(secret.ID).remove());
      removed += 1;
    }
    for (const config of (await docker.listConfigs({ filters })) as Array<{ ID: string }>) {
      await ignoreGone(() => docker.getConfig(config.ID).remove());
      removed += 1;
    }
    return removed;
  }

  /** Creates the launcher config and the secret of a generation (replacing leftovers). */
  async function secretObjects(request: WorkloadRequest<DockerSpec>, env: Record<string, string>) {
    const { instanceId, generation } = request;
    const objectLabels = workloadLabels(labels, instanceId, generation);
    launcherScript ??= readFileSync(LAUNCHER);
    const config = (await docker.createConfig({
      Name: launcherConfigName(instanceId, generation),
      Labels: objectLabels,
      Data: launcherScript.toString("base64"),
    })) as { id: string };
    const secret = (await docker.createSecret({
      Name: secretName(instanceId, generation),
      Labels: objectLabels,
      Data: Buffer.from(secretsLine(env)).toString("base64"),
    })) as { id: string };
    return {
      config: { id: config.id, name: launcherConfigName(instanceId, generation) },
      secret: { id: secret.id, name: secretName(instanceId, generation) },
    };
  }

  function handle(
    request: WorkloadRequest<DockerSpec>,
    containerId: string,
    endpoint: string,
    adopted: boolean,
    stdio?: StdioChannel,
    guard?: Docker.Container,
  ): WorkloadHandle {
    const container = docker.getContainer(containerId);
    const exit = containerExit(container, shutdown.signal);
    const exited = guard
      ? Promise.race([
          exit,
          containerExit(guard, shutdown.signal).then((why) => `port guard: ${why}`),
        ])
      : exit;
    return {
      instanceId: request.instanceId,
      generation: request.generation,
      driver: "swarm",
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

  /** Starts an http server's port guard, joined to the instance's overlay network. */
  function startGuard(request: WorkloadRequest<DockerSpec>, network: string, port: number) {
    const { instanceId, generation } = request;
    return startPortGuard(docker, {
      name: swarmGuardName(instanceId, generation),
      labels: { ...workloadLabels(labels, instanceId, generation), [LABELS.role]: "guard" },
      image: driverOptions.guardImage,
      edgeNetwork: swarmEdgeName(instanceId),
      edgeLabels: workloadLabels(labels, instanceId),
      serverNetwork: network,
      upstreamPort: port,
      credential: credentialOf(instanceId, generation),
      signal: shutdown.signal,
    });
  }

  /** Takes over the running service of this generation (after a runtime restart). */
  async function adopt(
    request: WorkloadRequest<DockerSpec>,
    existing: ObservedService,
  ): Promise<WorkloadHandle | undefined> {
    if (!existing.taskContainerId) return undefined;
    const info = await docker
      .getContainer(existing.taskContainerId)
      .inspect()
      .catch(() => undefined);
    if (!info?.State.Running) return undefined;
    if (request.spec.transport === "stdio") {
      // A task's stdin stays open (Swarm has no StdinOnce): attach again; the server keeps its state.
      if (!info.Config.OpenStdin) return undefined;
      const stdio = await attachStdio(docker, docker.getContainer(info.Id), shutdown.signal);
      return handle(request, info.Id, "", true, stdio);
    }
    const guardInfo = await docker
      .getContainer(swarmGuardName(request.instanceId, request.generation))
      .inspect()
      .catch(() => undefined);
    if (!guardInfo?.State.Running) return undefined;
    const endpoint = guardEndpoint(guardInfo, request.spec.path);
    if (!endpoint) return undefined;
    return handle(request, info.Id, endpoint, true, undefined, docker.getContainer(guardInfo.Id));
  }

  async function create(request: WorkloadRequest<DockerSpec>): Promise<WorkloadHandle> {
    const { spec, instanceId, generation } = request;
    const image = await inspectImage(docker, spec.image);
    const port = serverPort(spec, image);
    const argv = launcherArgv(spec, image, request.secretEnv ?? {});
    const network = await ensureOverlay(
      instanceId,
      spec.transport === "stdio" || !spec.networkEgress,
    );
    try {
      const launcher = argv
        ? { ...(await secretObjects(request, request.secretEnv!)), ...argv }
        : undefined;
      const service = await docker.createService(
        serviceSpec(request, {
          name: serviceName(instanceId, generation),
          labels: { ...workloadLabels(labels, instanceId, generation), "berth.image": spec.image },
          imageId: image.Id,
          network,
          user: containerUser(spec.user),
          ...(launcher ? { launcher } : {}),
        }),
      );
      failpoint("runtime.after-container-create");
      const containerId = await runningTask(service.id);
      failpoint("runtime.after-container-start");
      if (spec.transport === "stdio") {
        const container = docker.getContainer(containerId);
        return handle(
          request,
          containerId,
          "",
          false,
          await attachStdio(docker, container, shutdown.signal),
        );
      }
      const guard = await startGuard(request, network, port!);
      const endpoint = guardEndpoint(await guard.inspect(), spec.path);
      if (endpoint === undefined) throw new Error("the guard's published port is missing");
      return handle(request, containerId, endpoint, false, undefined, guard);
    } catch (error) {
      // Nothing half-made stays: the next attempt starts from a clean instance.
      await removeAll(instanceId, true).catch(() => undefined);
      throw error;
    }
  }

  async function collectGarbage(keep: ReadonlySet<string>): Promise<number> {
    const filters = scopeFilters(labels);
    const owners = new Set<string>();
    const note = (objectLabels: Record<string, string> | undefined) => {
      const id = objectLabels?.[LABELS.instance];
      if (id && !keep.has(id)) owners.add(id);
    };
    for (const s of await docker.listServices({ filters })) note(s.Spec?.Labels);
    for (const c of await docker.listContainers({ all: true, filters })) note(c.Labels);
    for (const n of await docker.listNetworks({ filters })) note(n.Labels);
    for (const s of await docker.listSecrets({ filters })) note(s.Spec?.Labels);
    for (const c of (await docker.listConfigs({ filters })) as Array<{
      Spec?: { Labels?: Record<string, string> };
    }>) {
      note(c.Spec?.Labels);
    }
    let removed = 0;
    for (const instanceId of owners) {
      removed += await exclusive(instanceId, () => removeAll(instanceId));
    }
    return removed;
  }

  return {
    name: "swarm",
    ensure: (request) =>
      swarmCall(() =>
        exclusive(request.instanceId, async () => {
          const existing = await listServices(request.instanceId);
          const current = existing.filter((s) => s.generation === request.generation && s.running);
          if (existing.length === 1 && current.length === 1) {
            const adopted = await adopt(request, current[0]!);
            if (adopted) return adopted;
          }
          await removeAll(request.instanceId, true);
          return create(request);
        }),
      ),
    remove: (instanceId) =>
      swarmCall(() => exclusive(instanceId, () => removeAll(instanceId))).then(() => undefined),
    sleep: (instanceId) =>
      swarmCall(() => exclusive(instanceId, () => removeAll(instanceId, true))).then(
        () => undefined,
      ),
    inspect: (instanceId) =>
      swarmCall(async () => (await listServices(instanceId)).map(toObserved)),
    list: () => swarmCall(async () => (await listServices()).map(toObserved)),
    collectGarbage: (keep) => swarmCall(() => collectGarbage(keep)),
    async *logs(instanceId, options) {
      const services = await swarmCall(() => listServices(instanceId));
      const latest = services.sort((a, b) => b.generation - a.generation)[0];
      if (!latest?.taskContainerId) return;
      const container = docker.getContainer(latest.taskContainerId);
      const common = { stdout: true, stderr: true, timestamps: true, tail: options.tailLines };
      const source = options.follow
        ? await container.logs({ ...common, follow: true, abortSignal: options.signal })
        : await container.logs({ ...common, follow: false });
      yield* logLines(source as never) as AsyncIterable<LogLine>;
    },
    close: () => shutdown.abort(),
  };
}
