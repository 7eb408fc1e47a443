/**
 * An in-process stand-in for a Kubernetes API server and the controllers behind it, for testing
 * the Kubernetes driver with the real @kubernetes/client-node over HTTP and WebSocket:
 * - the REST subset the driver uses (create, read, list by label selector, replace, merge patch,
 *   delete) on Deployments, Pods, Secrets, Services and NetworkPolicies, answering errors as
 *   metav1.Status with the API server's codes (404, 409, 415, 422);
 * - every object written is checked like the API server does (schemas and unknown fields,
 *   kubernetes-schema.ts): an invalid one is refused with 422, so no test passes on an object a
 *   cluster would refuse;
 * - a deployment controller (Recreate: one pod per template, replaced when the template changes,
 *   status and conditions written back, which bumps resourceVersion as the real one does), the
 *   garbage collector (dependents go with their owner) and a kubelet whose behaviour per image
 *   the test chooses; a "run" pod runs a real local process (environment resolved from the pod
 *   spec, secretKeyRef included) that the attach endpoint (channel.k8s.io protocol) connects to;
 * - a record of every request (method, path, query, body), for asserting what the driver did
 *   and which permissions it needs.
 * It is not a cluster: no scheduling, networking or image pulls happen.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { type WebSocket, WebSocketServer } from "ws";
import { schemaProblems } from "./kubernetes-schema.js";

/** One request the API server answered. */
export interface RecordedRequest {
  method: string;
  /** The path without the query. */
  path: string;
  query: Record<string, string>;
  body?: unknown;
  contentType?: string;
}

/** How the kubelet treats a pod of an image. */
export type PodBehaviour = "run" | "image-missing" | "crash-loop" | "unschedulable";

/** A local program that plays an image's container. */
export interface FakeProgram {
  command: string;
  args: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: the fake server handles objects of any kind as JSON.
type KubeObject = Record<string, any>;

/** The API server. */
export interface FakeKubeApi {
  url: string;
  requests: RecordedRequest[];
  /** A kubeconfig for client-node pointing here (http, as the test server has no TLS). */
  kubeConfig(): KubeConfig;
  /** The stored objects of a resource (deployments, pods, secrets, services, networkpolicies). */
  objects(resource: string): KubeObject[];
  /** Stores an object as if someone else made it (bypassing the driver). */
  put(resource: string, object: KubeObject): void;
  /** Deletes an object as someone else would (kubectl delete); dependents follow it. */
  delete(resource: string, namespace: string, name: string): void;
  /** Ends a running pod's process with an exit code; the kubelet restarts it in place. */
  crash(podName: string, exitCode: number): void;
  /** Log text of a pod (what readNamespacedPodLog answers), with kubelet-style timestamps. */
  setLog(podName: string, lines: string[]): void;
  /** Makes the API refuse every request with a connection reset (an unreachable API server). */
  setReachable(reachable: boolean): void;
  close(): Promise<void>;
}

/** Options of startFakeKubeApi. */
export interface FakeKubeApiOptions {
  /** What the kubelet does with each image (default: run). */
  behaviour?: (image: string) => PodBehaviour;
  /** The program a running pod of an image runs (none: the pod runs with no process). */
  programs?: Record<string, FakeProgram>;
}

const RESOURCES: Record<string, { apiVersion: string; kind: string }> = {
  deployments: { apiVersion: "apps/v1", kind: "Deployment" },
  pods: { apiVersion: "v1", kind: "Pod" },
  secrets: { apiVersion: "v1", kind: "Secret" },
  services: { apiVersion: "v1", kind: "Service" },
  networkpolicies: { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
};

const PATH =
  /^\/(?:api\/v1|apis\/(?:apps|networking\.k8s\.io)\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?(?:\/(log|attach))?$/;

const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  code,
});

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const result: KubeObject =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Equality-based label selectors (k=v,k2=v2), the only kind the driver sends. */
function matches(object: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels: Record<string, string> = object.metadata?.labels ?? {};
  return selector.split(",").every((term) => {
    const at = term.indexOf("=");
    return labels[term.slice(0, at)] === term.slice(at + 1);
  });
}

/** Starts the fake API server on 127.0.0.1. */
export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const store = new Map<string, KubeObject>(); // resource/namespace/name
  const requests: RecordedRequest[] = [];
  const processes = new Map<string, ChildProcess>(); // pod name
  const attached = new Map<string, Set<WebSocket>>(); // pod name
  const logs = new Map<string, string[]>();
  let version = 1;
  let reachable = true;
  const behaviour = options.behaviour ?? (() => "run" as const);

  const keyOf = (resource: string, namespace: string, name: string) =>
    `${resource}/${namespace}/${name}`;
  const list = (resource: string, namespace?: string) =>
    [...store.entries()]
      .filter(([key]) => key.startsWith(`${resource}/${namespace ?? ""}`))
      .map(([, object]) => object);
  const save = (resource: string, object: KubeObject) => {
    object.metadata.resourceVersion = String(++version);
    store.set(keyOf(resource, object.metadata.namespace, object.metadata.name), object);
  };

  function deleteObject(resource: string, namespace: string, name: string): void {
    const object = store.get(keyOf(resource, namespace, name));
    if (!object) return;
    store.delete(keyOf(resource, namespace, name));
    if (resource === "pods") stopPod(name);
    if (resource === "deployments") {
      for (const pod of list("pods", namespace)) {
        if (pod.metadata.ownerReferences?.[0]?.uid === object.metadata.uid)
          deleteObject("pods", namespace, pod.metadata.name);
      }
    }
    // The garbage collector: dependents whose owner is gone are deleted too.
    for (const dependentResource of Object.keys(RESOURCES)) {
      for (const dependent of list(dependentResource, namespace)) {
        const owners: KubeObject[] = dependent.metadata.ownerReferences ?? [];
        if (owners.some((owner) => owner.uid === object.metadata.uid))
          deleteObject(dependentResource, namespace, dependent.metadata.name);
      }
    }
  }

  function stopPod(name: string): void {
    processes.get(name)?.kill("SIGKILL");
    processes.delete(name);
    for (const socket of attached.get(name) ?? []) socket.close();
    attached.delete(name);
  }

  /** The kubelet's view of a container's environment: values and secretKeyRefs resolved. */
  function environment(pod: KubeObject): Record<string, string> | string {
    const env: Record<string, string> = {};
    for (const entry of pod.spec.containers[0].env ?? []) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (!ref) {
        env[entry.name] = entry.value ?? "";
        continue;
      }
      const secret = store.get(keyOf("secrets", pod.metadata.namespace, ref.name));
      const data = secret?.data?.[ref.key];
      if (data === undefined) return `secret "${ref.name}" or its key "${ref.key}" not found`;
      env[entry.name] = Buffer.from(data, "base64").toString("utf8");
    }
    return env;
  }

  function runProcess(pod: KubeObject): void {
    const program = options.programs?.[pod.spec.containers[0].image];
    if (!program) return;
    const env = environment(pod) as Record<string, string>;
    const child = spawn(program.command, program.args, {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    processes.set(pod.metadata.name, child);
    child.stdin.on("error", () => undefined);
    const forward = (channel: number) => (data: Buffer) => {
      for (const socket of attached.get(pod.metadata.name) ?? []) {
        socket.send(Buffer.concat([Buffer.from([channel]), data]));
      }
    };
    child.stdout.on("data", forward(1));
    child.stderr.on("data", forward(2));
  }

  /** The kubelet: a pod's status from the behaviour of its image. */
  function startPod(pod: KubeObject): void {
    const container = pod.spec.containers[0];
    const base = { name: container.name, image: container.image, restartCount: 0, ready: false };
    const now = new Date().toISOString();
    const mode = behaviour(container.image);
    if (mode === "unschedulable") {
      pod.status = {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/1 nodes are available: 1 Insufficient memory.",
          },
        ],
      };
      return;
    }
    const env = environment(pod);
    if (typeof env === "string") {
      pod.status = {
        phase: "Pending",
        containerStatuses: [
          { ...base, state: { waiting: { reason: "CreateContainerConfigError", message: env } } },
        ],
      };
      return;
    }
    if (mode === "image-missing") {
      pod.status = {
        phase: "Pending",
        containerStatuses: [
          {
            ...base,
            state: {
              waiting: {
                reason: "ErrImagePull",
                message: `pull access denied for ${container.image}`,
              },
            },
          },
        ],
      };
      return;
    }
    if (mode === "crash-loop") {
      pod.status = {
        phase: "Running",
        containerStatuses: [
          {
            ...base,
            restartCount: 1,
            state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } },
            lastState: { terminated: { exitCode: 3, reason: "Error", finishedAt: now } },
          },
        ],
      };
      return;
    }
    pod.status = {
      phase: "Running",
      conditions: [
        { type: "PodScheduled", status: "True" },
        { type: "Ready", status: "True" },
      ],
      containerStatuses: [{ ...base, ready: true, state: { running: { startedAt: now } } }],
    };
    runProcess(pod);
  }

  /** The deployment controller (Recreate), done a moment after the write like the real one. */
  function reconcile(namespace: string, name: string): void {
    setTimeout(() => {
      const deployment = store.get(keyOf("deployments", namespace, name));
      if (!deployment) return;
      const template = deployment.spec.template;
      const hash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 10);
      const owned = list("pods", namespace).filter(
        (pod) => pod.metadata.ownerReferences?.[0]?.uid === deployment.metadata.uid,
      );
      for (const pod of owned) {
        if (pod.metadata.labels["pod-template-hash"] !== hash || deployment.spec.replicas === 0)
          deleteObject("pods", namespace, pod.metadata.name);
      }
      const current = owned.filter((pod) => store.has(keyOf("pods", namespace, pod.metadata.name)));
      if (deployment.spec.replicas > 0 && current.length === 0) {
        const pod: KubeObject = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: `${name}-${hash}-${randomUUID().slice(0, 5)}`,
            namespace,
            uid: randomUUID(),
            creationTimestamp: new Date().toISOString(),
            labels: { ...template.metadata.labels, "pod-template-hash": hash },
            annotations: { ...template.metadata.annotations },
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: "Deployment",
                name,
                uid: deployment.metadata.uid,
                controller: true,
              },
            ],
          },
          spec: structuredClone(template.spec),
        };
        startPod(pod);
        save("pods", pod);
      }
      writeStatus(namespace, name);
    }, 20);
  }

  function writeStatus(namespace: string, name: string): void {
    const deployment = store.get(keyOf("deployments", namespace, name));
    if (!deployment) return;
    const pods = list("pods", namespace).filter(
      (pod) => pod.metadata.ownerReferences?.[0]?.uid === deployment.metadata.uid,
    );
    const available = pods.filter(
      (pod) => pod.status?.containerStatuses?.[0]?.state?.running !== undefined,
    ).length;
    deployment.status = {
      observedGeneration: deployment.metadata.generation,
      replicas: pods.length,
      availableReplicas: available,
      conditions: [
        {
          type: "Available",
          status: available >= deployment.spec.replicas ? "True" : "False",
          reason:
            available >= deployment.spec.replicas
              ? "MinimumReplicasAvailable"
              : "MinimumReplicasUnavailable",
        },
      ],
    };
    save("deployments", deployment);
  }

  function send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text ? JSON.parse(text) : undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const body = await readBody(req);
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(body === undefined ? {} : { body }),
      ...(req.headers["content-type"] ? { contentType: req.headers["content-type"] } : {}),
    };
    requests.push(record);
    const match = PATH.exec(url.pathname);
    const meta = match ? RESOURCES[match[2]!] : undefined;
    if (!match || !meta)
      return send(
        res,
        404,
        status(404, "NotFound", "the server could not find the requested resource"),
      );
    const [, namespace, resource, name, sub] = match as unknown as [
      string,
      string,
      string,
      string?,
      string?,
    ];
    const key = name ? keyOf(resource, namespace, name) : "";
    const existing = name ? store.get(key) : undefined;
    const notFound = () =>
      send(res, 404, status(404, "NotFound", `${resource} "${name}" not found`));

    if (sub === "log") {
      if (!existing) return notFound();
      const tail = Number(url.searchParams.get("tailLines") ?? 0);
      const lines = logs.get(name!) ?? [];
      const text = (tail ? lines.slice(-tail) : lines).map((line) => `${line}\n`).join("");
      res.writeHead(200, { "content-type": "text/plain" });
      // follow=true: the stream stays open (as the kubelet's does) until the client goes.
      if (url.searchParams.get("follow") === "true") res.write(text);
      else res.end(text);
      return;
    }
    const invalid = (object: KubeObject) => {
      const problems = schemaProblems(object);
      if (problems.length === 0) return false;
      send(
        res,
        422,
        status(
          422,
          "Invalid",
          `${meta.kind} "${object.metadata?.name}" is invalid: ${problems.join("; ")}`,
        ),
      );
      return true;
    };

    switch (req.method) {
      case "GET": {
        if (name) return existing ? send(res, 200, existing) : notFound();
        const items = list(resource, namespace).filter((object) =>
          matches(object, url.searchParams.get("labelSelector") ?? undefined),
        );
        return send(res, 200, {
          apiVersion: meta.apiVersion,
          kind: `${meta.kind}List`,
          metadata: { resourceVersion: String(version) },
          items,
        });
      }
      case "POST": {
        const object = body as KubeObject;
        if (invalid(object)) return;
        const objectName = object.metadata.name;
        if (store.has(keyOf(resource, namespace, objectName)))
          return send(
            res,
            409,
            status(409, "AlreadyExists", `${resource} "${objectName}" already exists`),
          );
        object.metadata = {
          ...object.metadata,
          namespace,
          uid: randomUUID(),
          generation: 1,
          creationTimestamp: new Date().toISOString(),
        };
        if (resource === "services") object.spec.clusterIP = `10.96.0.${(version % 250) + 1}`;
        save(resource, object);
        if (resource === "deployments") reconcile(namespace, objectName);
        return send(res, 201, object);
      }
      case "PUT": {
        if (!existing) return notFound();
        const object = body as KubeObject;
        if (invalid(object)) return;
        const sent = object.metadata.resourceVersion;
        if (sent && sent !== existing.metadata.resourceVersion)
          return send(res, 409, status(409, "Conflict", "the object has been modified"));
        if (resource === "services" && object.spec.clusterIP !== existing.spec.clusterIP)
          return send(
            res,
            422,
            status(422, "Invalid", "spec.clusterIP: Invalid value: field is immutable"),
          );
        object.metadata = {
          ...object.metadata,
          namespace,
          uid: existing.metadata.uid,
          creationTimestamp: existing.metadata.creationTimestamp,
          generation: existing.metadata.generation + 1,
        };
        if (resource === "deployments") object.status = existing.status;
        save(resource, object);
        if (resource === "deployments") reconcile(namespace, name!);
        return send(res, 200, object);
      }
      case "PATCH": {
        if (!existing) return notFound();
        if (record.contentType !== "application/merge-patch+json")
          return send(
            res,
            415,
            status(415, "UnsupportedMediaType", `${record.contentType} is not supported here`),
          );
        const object = mergePatch(existing, body) as KubeObject;
        if (invalid(object)) return;
        object.metadata.generation = existing.metadata.generation + 1;
        save(resource, object);
        if (resource === "deployments") reconcile(namespace, name!);
        return send(res, 200, object);
      }
      case "DELETE": {
        if (!existing) return notFound();
        deleteObject(resource, namespace, name!);
        return send(res, 200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      default:
        return send(res, 405, status(405, "MethodNotAllowed", `${req.method} is not allowed`));
    }
  }

  const server = createServer((req, res) => {
    if (!reachable) {
      req.socket.destroy();
      return;
    }
    handle(req, res).catch((error: unknown) =>
      send(res, 500, status(500, "InternalError", String(error))),
    );
  });
  const sockets = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) =>
      protocols.has("v4.channel.k8s.io") ? "v4.channel.k8s.io" : false,
  });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    requests.push({
      method: "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
    });
    const match = PATH.exec(url.pathname);
    const pod =
      match && match[4] === "attach" ? store.get(keyOf("pods", match[1]!, match[3]!)) : undefined;
    const child = pod ? processes.get(pod.metadata.name) : undefined;
    if (!reachable || !pod || !child) {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
      const name = pod.metadata.name as string;
      const set = attached.get(name) ?? new Set<WebSocket>();
      attached.set(name, set);
      set.add(ws);
      ws.on("message", (data: Buffer) => {
        if (data[0] === 0) processes.get(name)?.stdin?.write(data.subarray(1));
      });
      ws.on("close", () => set.delete(ws)); // stdinOnce false: the process keeps its stdin
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    kubeConfig() {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
        users: [{ name: "runtime", token: "fake-token" }],
        contexts: [{ name: "fake", cluster: "fake", user: "runtime", namespace: "default" }],
        currentContext: "fake",
      });
      return config;
    },
    objects: (resource) => list(resource),
    put(resource, object) {
      object.metadata.uid ??= randomUUID();
      save(resource, object);
    },
    delete: deleteObject,
    crash(podName, exitCode) {
      const pod = list("pods").find((p) => p.metadata.name === podName);
      if (!pod) throw new Error(`no pod ${podName}`);
      stopPod(podName);
      const container = pod.status.containerStatuses[0];
      container.restartCount += 1;
      container.lastState = {
        terminated: { exitCode, reason: "Error", finishedAt: new Date().toISOString() },
      };
      container.state = { running: { startedAt: new Date().toISOString() } };
      runProcess(pod);
      save("pods", pod);
    },
    setLog(podName, lines) {
      logs.set(podName, lines);
    },
    setReachable(value) {
      reachable = value;
    },
    async close() {
      for (const name of [...processes.keys()]) stopPod(name);
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
