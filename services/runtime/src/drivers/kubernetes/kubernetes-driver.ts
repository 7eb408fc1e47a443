import { isIPv6 } from "node:net";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AppsV1Api,
  Attach,
  CoreV1Api,
  type KubeConfig,
  Log,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import type { DockerSpec } from "../../spec/types.js";
import { parseLine } from "../docker/docker-logs.js";
import { LABELS, type LabelContext } from "../docker/labels.js";
import {
  type LogLine,
  type ObservedWorkload,
  PermanentStartError,
  type StdioChannel,
  type WorkloadDriver,
  type WorkloadHandle,
  type WorkloadRequest,
  WorkloadStartError,
} from "../types.js";
import {
  defaultNamespace,
  ignoreNotFound,
  inClusterNamespace,
  kubeCall,
  kubeStatus,
  loadKubeConfig,
  orNotFound,
} from "./kube-client.js";
import {
  CONTAINER_NAME,
  deploymentFor,
  networkPolicyFor,
  type ObjectContext,
  objectName,
  ownerReference,
  STARTED_AT_ANNOTATION,
  scopeSelector,
  secretFor,
  serviceFor,
} from "./kubernetes-objects.js";
import { deploymentAvailable, podState } from "./pod-status.js";
import { createPodWatcher } from "./pod-watcher.js";

/** How the runtime reaches an HTTP server's Service: a base URL without the MCP path. */
export type ServiceUrl = (service: { name: string; namespace: string; port: number }) => string;

/** The label that lets a pod reach HTTP servers (Berth's runtime and gateway carry it). */
export const MCP_CLIENT_LABEL = "berth.mcp-client";

/**
 * Options of createKubernetesDriver; what is left out is read from the environment:
 * - kubeConfig: KUBECONFIG when set, else the pod's service account in a cluster, else
 *   ~/.kube/config;
 * - namespace: BERTH_KUBERNETES_NAMESPACE, else the runtime pod's own namespace, else the
 *   kubeconfig context's, else "default";
 * - clients: pods labelled berth.mcp-client=true in BERTH_KUBERNETES_CLIENT_NAMESPACE, else in
 *   the runtime pod's namespace, else in the workloads' namespace.
 */
export interface KubernetesDriverOptions {
  labels: LabelContext;
  kubeConfig?: KubeConfig;
  /** Where instances' objects are made. */
  namespace?: string;
  /** Berth's pods that may reach HTTP servers (the runtime and the gateway). */
  clients?: ObjectContext["clients"];
  /** The environment the defaults are read from (process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * The Service's base URL. By default its cluster IP (`http://<clusterIP>:<port>`), which is
   * what its in-cluster DNS name resolves to: the runtime's probe and the gateway dial address
   * literals directly, while a name resolving to a private address is refused by their guarded
   * lookup (the SSRF rule for url instances). Either way it routes only inside the cluster; a
   * runtime outside one reaches stdio servers only (deploy/README.md).
   */
  serviceUrl?: ServiceUrl;
  /** How often pods are listed while starting and while running (default 2 s). */
  pollMs?: number;
  /** How long a pod may take to run its container before the start fails (default 120 s). */
  startTimeoutMs?: number;
  /** How long remove waits for the instance's pods to go (default 30 s). */
  removeTimeoutMs?: number;
}

/** The Kubernetes driver; close ends its watches and attachments, workloads keep running. */
export interface KubernetesDriver extends WorkloadDriver<DockerSpec> {
  close(): void;
}

/** A pod of an instance that runs its container now. */
interface RunningPod {
  pod: V1Pod;
  name: string;
  restarts: number;
}

/**
 * Creates the Kubernetes driver: per instance a Deployment of one hardened pod, a NetworkPolicy
 * that denies what the instance does not need, a Secret read through secretKeyRef, and for an
 * HTTP server a ClusterIP Service; the dependents are owned by the Deployment. stdio servers are
 * bridged through the attach API; health is the runtime's MCP probe on top of pod state.
 */
export function createKubernetesDriver(options: KubernetesDriverOptions): KubernetesDriver {
  const env = options.env ?? process.env;
  const kubeConfig = options.kubeConfig ?? loadKubeConfig(env);
  const namespace = defaultNamespace(
    kubeConfig,
    options.namespace ?? env.BERTH_KUBERNETES_NAMESPACE,
  );
  const clients = options.clients ?? {
    namespace: env.BERTH_KUBERNETES_CLIENT_NAMESPACE || inClusterNamespace() || namespace,
    labels: { [MCP_CLIENT_LABEL]: "true" },
  };
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const networking = kubeConfig.makeApiClient(NetworkingV1Api);
  const pollMs = options.pollMs ?? 2_000;
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  const removeTimeoutMs = options.removeTimeoutMs ?? 30_000;
  const context: ObjectContext = { namespace, labels: options.labels, clients };
  const attachments = new Set<{ close(): void }>();

  const listPods = async (instanceId?: string): Promise<V1Pod[]> =>
    (
      await core.listNamespacedPod({
        namespace,
        labelSelector: scopeSelector(options.labels, instanceId),
      })
    ).items;
  const watcher = createPodWatcher(() => listPods(), pollMs);

  const listDeployments = async (instanceId?: string): Promise<V1Deployment[]> =>
    (
      await apps.listNamespacedDeployment({
        namespace,
        labelSelector: scopeSelector(options.labels, instanceId),
      })
    ).items;

  const observed = (deployment: V1Deployment): ObservedWorkload => ({
    instanceId: deployment.metadata?.labels?.[LABELS.instance] ?? "",
    generation: Number(deployment.metadata?.labels?.[LABELS.generation] ?? 0),
    containerId: deployment.metadata?.name ?? "",
    running: (deployment.spec?.replicas ?? 0) > 0 && deploymentAvailable(deployment),
  });

  /** The instance's running pod of this generation (and start), if any. */
  async function runningPod(
    instanceId: string,
    generation: number,
    startedAt?: string,
  ): Promise<RunningPod | undefined> {
    for (const pod of await listPods(instanceId)) {
      if (pod.metadata?.labels?.[LABELS.generation] !== String(generation)) continue;
      if (startedAt && pod.metadata?.annotations?.[STARTED_AT_ANNOTATION] !== startedAt) continue;
      const state = podState(pod);
      if (state.type === "running") {
        return { pod, name: pod.metadata?.name ?? "", restarts: state.restarts };
      }
    }
    return undefined;
  }

  /**
   * Waits for the pod of this start to run its container; fails at once on a state that waiting
   * cannot fix (an image the cluster cannot pull: permanent; a crash or a bad config), and with
   * the last reason seen (e.g. the scheduler's) after startTimeoutMs.
   */
  async function waitForStart(request: WorkloadRequest<DockerSpec>, startedAt: string) {
    const deadline = Date.now() + startTimeoutMs;
    let last = "no pod yet";
    for (;;) {
      for (const pod of await listPods(request.instanceId)) {
        if (pod.metadata?.annotations?.[STARTED_AT_ANNOTATION] !== startedAt) continue;
        const state = podState(pod);
        if (state.type === "running") {
          return { pod, name: pod.metadata?.name ?? "", restarts: state.restarts };
        }
        if (state.type === "failed") {
          throw state.permanent
            ? new PermanentStartError(state.reason)
            : new WorkloadStartError(state.reason);
        }
        last = state.reason;
      }
      if (Date.now() >= deadline) {
        throw new WorkloadStartError(
          `the pod did not run within ${Math.round(startTimeoutMs / 1000)} s: ${last}`,
        );
      }
      await sleep(pollMs);
    }
  }

  /** Attaches to a stdio server's container (stdin, stdout, stderr; no tty). */
  async function attach(podName: string): Promise<StdioChannel> {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.resume(); // stderr is in the pod's log; unread it would stall the socket
    const socket = await new Attach(kubeConfig).attach(
      namespace,
      podName,
      CONTAINER_NAME,
      stdout,
      stderr,
      stdin,
      false,
    );
    const channel = {
      close: () => {
        attachments.delete(channel);
        socket.close();
      },
    };
    attachments.add(channel);
    const ended = () => {
      attachments.delete(channel);
      stdout.end();
    };
    socket.on("close", ended);
    socket.on("error", ended);
    return { stdin, stdout, close: channel.close };
  }

  /** Where an HTTP server's Service answers (see KubernetesDriverOptions.serviceUrl). */
  async function serviceBase(instanceId: string, port: number): Promise<string> {
    const name = objectName(instanceId);
    if (options.serviceUrl) return options.serviceUrl({ name, namespace, port });
    const service = await core.readNamespacedService({ name, namespace });
    const ip = service.spec?.clusterIP;
    if (!ip || ip === "None") throw new WorkloadStartError(`service ${name} has no cluster IP`);
    return `http://${isIPv6(ip) ? `[${ip}]` : ip}:${port}`;
  }

  async function handle(
    request: WorkloadRequest<DockerSpec>,
    running: RunningPod,
    adopted: boolean,
  ): Promise<WorkloadHandle> {
    const { spec, instanceId } = request;
    const stdio = spec.transport === "stdio" ? await attach(running.name) : undefined;
    const endpoint = stdio ? "" : `${await serviceBase(instanceId, spec.port!)}${spec.path}`;
    return {
      instanceId,
      generation: request.generation,
      driver: "kubernetes",
      endpoint,
      headers: {},
      containerId: running.name,
      ...(stdio ? { stdio } : {}),
      adopted,
      exited: watcher.watch(running.name, running.restarts),
      restartable: true,
    };
  }

  /**
   * Replaces the object a Deployment that existed already owns, or creates it; the other way
   * round for a new Deployment (unconditional replace: the driver owns the object). Either
   * falls back to the other call when the object turns out (not) to be there.
   */
  async function upsert<T>(
    body: T,
    existed: boolean,
    calls: { create(body: T): Promise<unknown>; replace(body: T): Promise<unknown> },
  ): Promise<void> {
    try {
      await (existed ? calls.replace(body) : calls.create(body));
    } catch (error) {
      if (kubeStatus(error) !== (existed ? 404 : 409)) throw error;
      await (existed ? calls.create(body) : calls.replace(body));
    }
  }

  /** Makes (or remakes) the instance's objects and rolls out one pod of this generation. */
  async function start(
    request: WorkloadRequest<DockerSpec>,
    existing: V1Deployment | undefined,
  ): Promise<WorkloadHandle> {
    const { instanceId, spec } = request;
    const name = objectName(instanceId);
    const startedAt = new Date().toISOString();
    // A new Deployment starts with no replica: its NetworkPolicy and Secret exist (owned by it)
    // before any pod of it runs.
    const deployment =
      existing ??
      (await apps.createNamespacedDeployment({
        namespace,
        body: deploymentFor(request, context, { replicas: 0, startedAt }),
      }));
    const existed = existing !== undefined;
    const owner = ownerReference(deployment);
    await upsert(networkPolicyFor(request, context, owner), existed, {
      create: (body) => networking.createNamespacedNetworkPolicy({ namespace, body }),
      replace: (body) => networking.replaceNamespacedNetworkPolicy({ name, namespace, body }),
    });
    if (Object.keys(request.secretEnv ?? {}).length > 0) {
      await upsert(secretFor(request, context, owner), existed, {
        create: (body) => core.createNamespacedSecret({ namespace, body }),
        replace: (body) => core.replaceNamespacedSecret({ name, namespace, body }),
      });
    } else {
      await ignoreNotFound(() => core.deleteNamespacedSecret({ name, namespace }));
    }
    if (spec.transport === "http") {
      const service = serviceFor(request, context, owner);
      await upsert(service, existed, {
        create: (body) => core.createNamespacedService({ namespace, body }),
        replace: async (body) => {
          const current = await core.readNamespacedService({ name, namespace });
          body.spec = { ...body.spec, clusterIP: current.spec?.clusterIP };
          await core.replaceNamespacedService({ name, namespace, body });
        },
      });
    } else {
      await ignoreNotFound(() => core.deleteNamespacedService({ name, namespace }));
    }
    // Unconditional replace: the deployment controller rewrites status meanwhile, which would
    // make a resourceVersion-guarded update conflict; the template's new start annotation rolls
    // out a new pod (Recreate: the old one ends first).
    await apps.replaceNamespacedDeployment({
      name,
      namespace,
      body: deploymentFor(request, context, { replicas: 1, startedAt }),
    });
    try {
      return await handle(request, await waitForStart(request, startedAt), false);
    } catch (error) {
      // Nothing crash-loops between Berth's own restarts: the next ensure rolls out again.
      await ignoreNotFound(() =>
        apps.patchNamespacedDeployment(
          { name, namespace, body: { spec: { replicas: 0 } } },
          mergePatch,
        ),
      ).catch(() => undefined);
      throw error;
    }
  }

  async function removeInstance(instanceId: string): Promise<void> {
    const name = objectName(instanceId);
    await ignoreNotFound(() =>
      apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: "Background" }),
    );
    await ignoreNotFound(() => networking.deleteNamespacedNetworkPolicy({ name, namespace }));
    await ignoreNotFound(() => core.deleteNamespacedSecret({ name, namespace }));
    await ignoreNotFound(() => core.deleteNamespacedService({ name, namespace }));
    // Gone means gone: a stop followed by a start must not find the old process still running.
    const deadline = Date.now() + removeTimeoutMs;
    while ((await listPods(instanceId)).length > 0 && Date.now() < deadline) await sleep(pollMs);
  }

  async function collectGarbage(keep: ReadonlySet<string>): Promise<number> {
    const selector = { namespace, labelSelector: scopeSelector(options.labels) };
    const unknown = (meta: { labels?: Record<string, string> } | undefined) =>
      !keep.has(meta?.labels?.[LABELS.instance] ?? "");
    let removed = 0;
    const deployments = (await apps.listNamespacedDeployment(selector)).items;
    for (const item of deployments.filter((d) => unknown(d.metadata))) {
      const name = item.metadata!.name!;
      await ignoreNotFound(() =>
        apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: "Background" }),
      );
      removed += 1;
    }
    // Owned objects go with their Deployment; these catch any whose owner never existed.
    for (const item of (await networking.listNamespacedNetworkPolicy(selector)).items) {
      if (!unknown(item.metadata)) continue;
      const name = item.metadata!.name!;
      await ignoreNotFound(() => networking.deleteNamespacedNetworkPolicy({ name, namespace }));
      removed += 1;
    }
    for (const item of (await core.listNamespacedSecret(selector)).items) {
      if (!unknown(item.metadata)) continue;
      const name = item.metadata!.name!;
      await ignoreNotFound(() => core.deleteNamespacedSecret({ name, namespace }));
      removed += 1;
    }
    for (const item of (await core.listNamespacedService(selector)).items) {
      if (!unknown(item.metadata)) continue;
      const name = item.metadata!.name!;
      await ignoreNotFound(() => core.deleteNamespacedService({ name, namespace }));
      removed += 1;
    }
    return removed;
  }

  /** The newest pod of an instance (the one whose log is wanted). */
  async function latestPod(instanceId: string): Promise<string | undefined> {
    const pods = await listPods(instanceId);
    const time = (pod: V1Pod) => new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
    return pods.sort((a, b) => time(b) - time(a))[0]?.metadata?.name;
  }

  return {
    name: "kubernetes",
    ensure: (request) =>
      kubeCall(async () => {
        const name = objectName(request.instanceId);
        const existing = await orNotFound(() => apps.readNamespacedDeployment({ name, namespace }));
        const generation = existing?.spec?.template?.metadata?.labels?.[LABELS.generation];
        if (existing && generation === String(request.generation) && existing.spec?.replicas) {
          // A running pod of this generation is taken over (after a runtime restart).
          const running = await runningPod(request.instanceId, request.generation);
          if (running) return handle(request, running, true);
        }
        return start(request, existing);
      }),
    remove: (instanceId) => kubeCall(() => removeInstance(instanceId)),
    inspect: (instanceId) =>
      kubeCall(async () => (await listDeployments(instanceId)).map(observed)),
    list: () => kubeCall(async () => (await listDeployments()).map(observed)),
    collectGarbage: (keep) => kubeCall(() => collectGarbage(keep)),
    async *logs(instanceId, logOptions) {
      const pod = await kubeCall(() => latestPod(instanceId));
      if (!pod) return;
      const query = { tailLines: logOptions.tailLines, timestamps: true };
      if (!logOptions.follow) {
        const text = await kubeCall(() =>
          core.readNamespacedPodLog({ name: pod, namespace, container: CONTAINER_NAME, ...query }),
        );
        for (const line of text.split("\n")) if (line) yield parseLine(line, "stdout");
        return;
      }
      // Kubernetes merges stdout and stderr into one log; its lines are reported as stdout.
      const stream = new PassThrough();
      const request = await kubeCall(() =>
        new Log(kubeConfig).log(namespace, pod, CONTAINER_NAME, stream, {
          follow: true,
          ...query,
        }),
      );
      const stop = () => {
        request.abort();
        stream.end();
      };
      logOptions.signal.addEventListener("abort", stop, { once: true });
      try {
        for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
          yield parseLine(line, "stdout") as LogLine;
        }
      } finally {
        logOptions.signal.removeEventListener("abort", stop);
        stop();
      }
    },
    close() {
      watcher.close();
      for (const attachment of [...attachments]) attachment.close();
    },
  };
}

/** client-node's options for a JSON merge patch (its default is a JSON patch). */
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
