import { existsSync, readFileSync } from "node:fs";
import { delimiter } from "node:path";
import { ApiException, KubeConfig } from "@kubernetes/client-node";
import {
  EngineUnavailableError,
  isEngineUnavailable,
  isPermanentStartError,
  PermanentStartError,
  WorkloadStartError,
} from "../errors.js";

/** Where a pod finds its own namespace (the service account's mount). */
const IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/**
 * The client configuration: the file(s) in KUBECONFIG when set, else the pod's service account
 * when running in a cluster, else ~/.kube/config (client-node's own order).
 */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const config = new KubeConfig();
  const files = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (files.length > 0) {
    // Merged in order, as kubectl does (client-node would read process.env, not env).
    config.loadFromFile(files[0]!);
    for (const file of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      config.mergeConfig(more);
    }
  } else if (env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else config.loadFromDefault();
  return config;
}

/** The namespace of the pod this process runs in, when it runs in a cluster. */
export function inClusterNamespace(): string | undefined {
  if (!existsSync(IN_CLUSTER_NAMESPACE)) return undefined;
  return readFileSync(IN_CLUSTER_NAMESPACE, "utf8").trim() || undefined;
}

/** The namespace: explicit, else the pod's own (in cluster), else the context's, else default. */
export function defaultNamespace(config: KubeConfig, explicit?: string): string {
  return (
    explicit ||
    inClusterNamespace() ||
    config.getContextObject(config.getCurrentContext())?.namespace ||
    "default"
  );
}

/** The HTTP status of a Kubernetes API error, if it is one. */
export function kubeStatus(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** The API's own message (a metav1.Status) without the request, headers or body echoed. */
function apiMessage(error: ApiException<unknown>): string {
  const body = error.body as unknown;
  const parsed = typeof body === "string" ? safeJson(body) : body;
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : `HTTP ${error.code}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Network failures that mean the API server does not answer. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * The driver port's error for a client-node failure: EngineUnavailableError when the API server
 * does not answer (or answers 429/5xx), PermanentStartError when it refuses an object as invalid
 * (422: retrying the same spec cannot help), else a WorkloadStartError with the API's message.
 */
export function toDriverError(error: unknown): Error {
  if (isEngineUnavailable(error) || isPermanentStartError(error)) return error as Error;
  if (error instanceof WorkloadStartError) return error;
  if (error instanceof ApiException) {
    const message = apiMessage(error).slice(0, 500);
    if (error.code === 429 || error.code >= 500) {
      return new EngineUnavailableError("Kubernetes", { cause: error });
    }
    if (error.code === 422) {
      return new PermanentStartError(`the Kubernetes API refused the object: ${message}`, {
        cause: error,
      });
    }
    return new WorkloadStartError(`the Kubernetes API answered ${error.code}: ${message}`, {
      cause: error,
    });
  }
  const code =
    (error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code;
  if (typeof code === "string" && UNREACHABLE.has(code)) {
    return new EngineUnavailableError("Kubernetes", { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new WorkloadStartError(message.slice(0, 500), { cause: error });
}

/** Runs Kubernetes calls, raising the port's errors. */
export async function kubeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toDriverError(error);
  }
}

/** Runs a call whose 404 (already gone) is success. */
export async function ignoreNotFound(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (kubeStatus(error) !== 404) throw error;
  }
}

/** The value of a call, or undefined on 404. */
export async function orNotFound<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (kubeStatus(error) === 404) return undefined;
    throw error;
  }
}
