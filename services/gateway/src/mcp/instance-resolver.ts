import {
  Code,
  ConnectError,
  type Logger,
  RETRY_AFTER_SECONDS,
  retryAfterOf,
} from "@berth/platform";
import type { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { type RuntimeService, WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { DEFAULT_TEAM } from "@berth/spec";
import type { Client } from "@connectrpc/connect";
import { createStaleCache } from "./stale-cache.js";
import {
  type InstanceIdentity,
  type InstanceResolver,
  type McpEndpoint,
  McpProxyError,
} from "./types.js";

/** Options of createInstanceResolver. */
export interface InstanceResolverOptions {
  instances: Client<typeof InstancesService>;
  runtime: Client<typeof RuntimeService>;
  /** How long a lookup is fresh; events about the instance drop it sooner. */
  ttlMs: number;
  logger: Logger;
  now?: () => number;
  /**
   * The longest a request waits for an idle instance to wake (the runtime answers sooner, at the
   * instance's own wake deadline); then 503 with Retry-After.
   */
  wakeTimeoutMs?: number;
  /** Told of each wake-up this gateway waited for (metrics). */
  onWake?: (outcome: "ok" | "timeout" | "failed", seconds: number) => void;
}

/** The instances or runtime service did not answer a lookup (503, the caller may retry). */
export class ControlPlaneUnavailableError extends McpProxyError {
  constructor(readonly service: string) {
    super(503, `the ${service} service is unavailable`, {
      "retry-after": String(RETRY_AFTER_SECONDS),
    });
  }
}

/** Whether a lookup failed because the control plane is away (not because the instance is). */
export function isControlPlaneUnavailable(error: unknown): error is ControlPlaneUnavailableError {
  return error instanceof ControlPlaneUnavailableError;
}

// Unhealthy instances are still tried: a failed probe does not mean every call fails.
const SERVING = new Set([WorkloadState.RUNNING, WorkloadState.UNHEALTHY]);

/**
 * An InstanceResolver over InstancesService.GetInstance and RuntimeService.ResolveEndpoint. The
 * data plane outlives the control plane: once an instance was resolved, its last known endpoint
 * keeps serving while those services are away (logged with `stale: true`, counted in `stats`);
 * lookups are refreshed in the background, so no MCP call waits on the control plane after the
 * first.
 */
export function createInstanceResolver(
  options: InstanceResolverOptions,
): InstanceResolver & { stats: { staleServed: number } } {
  const { logger } = options;
  const stats = { staleServed: 0 };
  const cacheOptions = {
    ttlMs: options.ttlMs,
    isOutage: isControlPlaneUnavailable,
    onStale: (key: string, error: unknown) => {
      stats.staleServed++;
      const service = (error as ControlPlaneUnavailableError).service;
      logger.warn({ key, service, stale: true }, "serving the last known instance lookup");
    },
    ...(options.now ? { now: options.now } : {}),
  };
  const identities = createStaleCache<InstanceIdentity>(cacheOptions);
  const endpoints = createStaleCache<McpEndpoint>(cacheOptions);
  // One wake call per instance at a time: concurrent first requests wait for the same one.
  const waking = new Map<string, Promise<McpEndpoint>>();

  /** Asks the runtime to wake the instance and waits until its server answers. */
  const wake = (instance: InstanceIdentity): Promise<McpEndpoint> => {
    let pending = waking.get(instance.id);
    if (!pending) {
      pending = callWake(instance).finally(() => waking.delete(instance.id));
      waking.set(instance.id, pending);
    }
    return pending;
  };

  const callWake = async (instance: InstanceIdentity): Promise<McpEndpoint> => {
    const started = performance.now();
    const took = () => (performance.now() - started) / 1000;
    try {
      const answer = await options.runtime.wakeInstance(
        { instanceId: instance.id },
        { timeoutMs: options.wakeTimeoutMs ?? 610_000 },
      );
      options.onWake?.("ok", took());
      return {
        instanceId: instance.id,
        url: answer.url,
        headers: { ...answer.headers },
        generation: answer.generation,
        driver: answer.driver,
      };
    } catch (error) {
      const connect = error instanceof ConnectError ? error : undefined;
      if (connect?.code === Code.Unavailable || connect?.code === Code.DeadlineExceeded) {
        options.onWake?.("timeout", took());
        // The server is still starting: the caller may retry (the runtime says when).
        const retryAfter = (connect && retryAfterOf(connect)) ?? RETRY_AFTER_SECONDS;
        throw new McpProxyError(
          503,
          connect.code === Code.Unavailable
            ? connect.rawMessage
            : `instance ${JSON.stringify(instance.name)} is still waking`,
          { "retry-after": String(retryAfter) },
        );
      }
      options.onWake?.("failed", took());
      if (connect && [Code.NotFound, Code.FailedPrecondition].includes(connect.code)) {
        throw new McpProxyError(
          503,
          `instance ${JSON.stringify(instance.name)} is not running (${connect.rawMessage})`,
        );
      }
      throw upstreamFailure("runtime", error, logger);
    }
  };

  const lookUpIdentity = async (ref: string): Promise<InstanceIdentity> => {
    let instance: InstanceIdentity | undefined;
    try {
      instance = (await options.instances.getInstance({ id: ref })).instance;
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.NotFound) instance = undefined;
      else throw upstreamFailure("instances", error, logger);
    }
    if (!instance?.id) throw new McpProxyError(404, `instance ${JSON.stringify(ref)} not found`);
    // An instance answered without a team (an older instances service) is the default team's,
    // as every instance made before teams is.
    return { id: instance.id, name: instance.name, team: instance.team || DEFAULT_TEAM };
  };

  const lookUpEndpoint = async (instance: InstanceIdentity): Promise<McpEndpoint> => {
    const notRunning = (state: string) =>
      new McpProxyError(503, `instance ${JSON.stringify(instance.name)} is not running (${state})`);
    let answer: Awaited<ReturnType<typeof options.runtime.resolveEndpoint>>;
    try {
      answer = await options.runtime.resolveEndpoint({ instanceId: instance.id });
    } catch (error) {
      if (
        error instanceof ConnectError &&
        [Code.NotFound, Code.FailedPrecondition].includes(error.code)
      ) {
        throw notRunning("no workload");
      }
      throw upstreamFailure("runtime", error, logger);
    }
    // Idle, or being woken by another request: the first request starts it and waits.
    if (answer.wakeable) return wake(instance);
    if (!SERVING.has(answer.state) || answer.url === "") {
      throw notRunning(WorkloadState[answer.state] ?? "unknown");
    }
    return {
      instanceId: instance.id,
      url: answer.url,
      headers: { ...answer.headers },
      generation: answer.generation,
      driver: answer.driver,
    };
  };

  return {
    stats,
    identify: (ref) => identities.get(ref, () => lookUpIdentity(ref)),
    endpoint: (instance) => endpoints.get(instance.id, () => lookUpEndpoint(instance)),
    invalidate(instanceId) {
      endpoints.delete(instanceId);
      identities.deleteWhere((identity) => identity.id === instanceId);
    },
  };
}

function upstreamFailure(service: string, error: unknown, logger: Logger): McpProxyError {
  logger.warn({ err: error, service }, "instance lookup failed");
  return new ControlPlaneUnavailableError(service);
}
