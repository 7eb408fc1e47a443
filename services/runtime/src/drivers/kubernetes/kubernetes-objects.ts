import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyIngressRule,
  V1ObjectMeta,
  V1OwnerReference,
  V1Secret,
  V1Service,
} from "@kubernetes/client-node";
import type { DockerSpec } from "../../spec/types.js";
import { LABELS, type LabelContext, workloadLabels } from "../docker/labels.js";
import { PermanentStartError, type WorkloadRequest } from "../types.js";

/** The container's name inside an instance's pod (attach and logs name it). */
export const CONTAINER_NAME = "mcp";

/** The uid an instance runs as when json_spec names no user (nobody, as on Docker). */
export const NOBODY_UID = 65534;

/** The annotation whose change makes the Deployment replace its pod (a Berth restart). */
export const STARTED_AT_ANNOTATION = "berth.started-at";

/** What every object of an instance carries besides Berth's labels. */
const MANAGED_BY = { "app.kubernetes.io/managed-by": "berth" } as const;

/** Where an instance's objects go and who may reach its HTTP server. */
export interface ObjectContext {
  namespace: string;
  labels: LabelContext;
  /**
   * The pods allowed to reach an HTTP server (the runtime and the gateway that proxy MCP
   * traffic), by namespace and labels; nothing else is let in.
   */
  clients: { namespace: string; labels: Record<string, string> };
}

/**
 * The one name of an instance's Deployment, Service, Secret and NetworkPolicy: a DNS-1035 label
 * (Services need a leading letter) of 42 characters for a UUID.
 */
export function objectName(instanceId: string): string {
  return `berth-${instanceId.toLowerCase()}`;
}

/** The labels that pick an instance's pods: immutable in a Deployment, so no generation. */
export function selectorLabels(context: LabelContext, instanceId: string): Record<string, string> {
  return {
    [LABELS.managed]: "true",
    [LABELS.scope]: context.scope,
    [LABELS.instance]: instanceId,
  };
}

/** A label selector (k=v,k2=v2) for the scope, optionally one instance. */
export function scopeSelector(context: LabelContext, instanceId?: string): string {
  const labels: Record<string, string> = {
    [LABELS.managed]: "true",
    [LABELS.scope]: context.scope,
    ...(instanceId ? { [LABELS.instance]: instanceId } : {}),
  };
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

function metadata(
  context: ObjectContext,
  instanceId: string,
  generation: number | undefined,
  owner?: V1OwnerReference,
): V1ObjectMeta {
  return {
    name: objectName(instanceId),
    namespace: context.namespace,
    labels: { ...workloadLabels(context.labels, instanceId, generation), ...MANAGED_BY },
    ...(owner ? { ownerReferences: [owner] } : {}),
  };
}

/**
 * The reference that hands an object to its instance's Deployment: Kubernetes' garbage collector
 * deletes the Secret, Service and NetworkPolicy when the Deployment goes, even if the runtime
 * never comes back to do it.
 */
export function ownerReference(deployment: V1Deployment): V1OwnerReference {
  const { name, uid } = deployment.metadata ?? {};
  if (!name || !uid) throw new Error("the Deployment has no name or uid yet");
  return { apiVersion: "apps/v1", kind: "Deployment", name, uid, blockOwnerDeletion: false };
}

/**
 * The uid and gid of json_spec `user` ("1000" or "1000:1000"): Kubernetes runs containers only
 * as numeric ids when runAsNonRoot is set, so a user name cannot be honoured.
 */
export function podUser(user: string | undefined): { uid: number; gid: number } {
  if (!user) return { uid: NOBODY_UID, gid: NOBODY_UID };
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!match) {
    throw new PermanentStartError(
      `json_spec.user must be a numeric uid (optionally :gid) on Kubernetes, not "${user}"`,
    );
  }
  const uid = Number(match[1]);
  const gid = match[2] === undefined ? uid : Number(match[2]);
  if (uid === 0) throw new PermanentStartError("json_spec.user must not be root (0) on Kubernetes");
  return { uid, gid };
}

/** The container port of an HTTP server: Kubernetes cannot read an image's exposed ports. */
export function serverPort(spec: DockerSpec): number | undefined {
  if (spec.transport !== "http") return undefined;
  if (!spec.port) {
    throw new PermanentStartError(
      "json_spec.port is required for an HTTP server on Kubernetes (the image's exposed port cannot be read)",
    );
  }
  return spec.port;
}

/**
 * Requests and limits from json_spec: memory in bytes and CPU in millicores, requests equal to
 * limits (the Guaranteed QoS class: the scheduler reserves what the instance may use, and the
 * kubelet evicts it last). A pids limit has no per-pod field (it is the kubelet's podPidsLimit).
 */
export function resources(spec: DockerSpec): { limits: Record<string, string> } & {
  requests: Record<string, string>;
} {
  const quantities = {
    memory: String(spec.resources.memoryBytes),
    cpu: `${Math.max(1, Math.round(spec.resources.nanoCpus / 1e6))}m`,
  };
  return { limits: quantities, requests: { ...quantities } };
}

/** The container's environment: plain values inline, secret values by secretKeyRef only. */
export function environment(
  spec: DockerSpec,
  secretNames: readonly string[],
  secretName: string,
): V1EnvVar[] {
  return [
    ...Object.entries(spec.environment).map(([name, value]) => ({ name, value })),
    ...secretNames.map((name) => ({
      name,
      valueFrom: { secretKeyRef: { name: secretName, key: name, optional: false } },
    })),
  ];
}

/**
 * The Deployment of an instance: one replica (Recreate, so two generations never run at once),
 * its pod under the restricted Pod Security profile (non-root, read-only root filesystem with a
 * memory-backed /tmp, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault),
 * no service-account token and no service links, stdin held open for a stdio server (the runtime
 * attaches to it; stdinOnce false so a restarted runtime attaches again).
 */
export function deploymentFor(
  request: WorkloadRequest<DockerSpec>,
  context: ObjectContext,
  options: { replicas: number; startedAt: string },
): V1Deployment {
  const { spec, instanceId, generation } = request;
  const user = podUser(spec.user);
  const port = serverPort(spec);
  const secretNames = Object.keys(request.secretEnv ?? {}).sort();
  const name = objectName(instanceId);
  const container: V1Container = {
    name: CONTAINER_NAME,
    image: spec.image,
    imagePullPolicy: "IfNotPresent",
    ...(spec.command ? { command: spec.command } : {}),
    ...(spec.args ? { args: spec.args } : {}),
    env: environment(spec, secretNames, name),
    resources: resources(spec),
    stdin: spec.transport === "stdio",
    stdinOnce: false,
    tty: false,
    ...(port ? { ports: [{ name: "mcp", containerPort: port, protocol: "TCP" }] } : {}),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: user.uid,
      runAsGroup: user.gid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(context, instanceId, generation),
    spec: {
      replicas: options.replicas,
      selector: { matchLabels: selectorLabels(context.labels, instanceId) },
      strategy: { type: "Recreate" },
      revisionHistoryLimit: 0,
      template: {
        metadata: {
          labels: { ...workloadLabels(context.labels, instanceId, generation), ...MANAGED_BY },
          annotations: { [STARTED_AT_ANNOTATION]: options.startedAt },
        },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 10,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: user.uid,
            runAsGroup: user.gid,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [container],
          volumes: [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } }],
        },
      },
    },
  };
}

/** The Secret holding an instance's secret values, read by the pod through secretKeyRef. */
export function secretFor(
  request: WorkloadRequest<DockerSpec>,
  context: ObjectContext,
  owner: V1OwnerReference,
): V1Secret {
  const data = Object.fromEntries(
    Object.entries(request.secretEnv ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value, "utf8").toString("base64"),
    ]),
  );
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: metadata(context, request.instanceId, request.generation, owner),
    type: "Opaque",
    data,
  };
}

/** The ClusterIP Service through which an HTTP server is reached (in-cluster DNS name). */
export function serviceFor(
  request: WorkloadRequest<DockerSpec>,
  context: ObjectContext,
  owner: V1OwnerReference,
): V1Service {
  const port = serverPort(request.spec)!;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(context, request.instanceId, request.generation, owner),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(context.labels, request.instanceId),
      ports: [{ name: "mcp", port, targetPort: "mcp", protocol: "TCP" }],
    },
  };
}

/** Link-local addresses (cloud metadata services) stay closed even to servers with egress. */
const METADATA_RANGES = ["169.254.0.0/16"];

/**
 * The NetworkPolicy of an instance: everything denied in both directions, except
 * - an HTTP server's port, for Berth's own pods (ObjectContext.clients);
 * - for an HTTP server whose catalog entry grants egress (json_spec `network_egress`): DNS and
 *   any address outside the link-local range, as the Docker driver's bridge network allows.
 * A stdio server gets neither: the runtime reaches it through the attach API, not the network.
 */
export function networkPolicyFor(
  request: WorkloadRequest<DockerSpec>,
  context: ObjectContext,
  owner: V1OwnerReference,
): V1NetworkPolicy {
  const port = serverPort(request.spec);
  const ingress: V1NetworkPolicyIngressRule[] = port
    ? [
        {
          _from: [
            {
              namespaceSelector: {
                matchLabels: { "kubernetes.io/metadata.name": context.clients.namespace },
              },
              podSelector: { matchLabels: context.clients.labels },
            },
          ],
          ports: [{ protocol: "TCP", port }],
        },
      ]
    : [];
  const egress: V1NetworkPolicyEgressRule[] =
    port && request.spec.networkEgress
      ? [
          {
            ports: [
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 53 },
            ],
          },
          {
            to: [
              { ipBlock: { cidr: "0.0.0.0/0", except: METADATA_RANGES } },
              { ipBlock: { cidr: "::/0", except: ["fe80::/10"] } },
            ],
          },
        ]
      : [];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: metadata(context, request.instanceId, request.generation, owner),
    spec: {
      podSelector: { matchLabels: selectorLabels(context.labels, request.instanceId) },
      policyTypes: ["Ingress", "Egress"],
      ingress,
      egress,
    },
  };
}
