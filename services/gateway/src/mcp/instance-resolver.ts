import { Code, ConnectError, type Logger } from "@berth/platform";
import type { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { type RuntimeService, WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import type { Client } from "@connectrpc/connect";
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
  /** How long a lookup is reused; events about the instance drop it sooner. */
  ttlMs: number;
  logger: Logger;
  now?: () => number;
}

// Unhealthy instances are still tried: a failed probe does not mean every call fails.
const SERVING = new Set([WorkloadState.RUNNING, WorkloadState.UNHEALTHY]);
const MAX_ENTRIES = 10_000;

/** An InstanceResolver over InstancesService.GetInstance and RuntimeService.ResolveEndpoint. */
export function createInstanceResolver(options: InstanceResolverOptions): InstanceResolver {
  const now = options.now ?? Date.now;
  const identities = new Map<string, { value: InstanceIdentity; until: number }>();
  const endpoints = new Map<string, { value: McpEndpoint; until: number }>();
  const remember = <T>(map: Map<string, { value: T; until: number }>, key: string, value: T) => {
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, { value, until: now() + options.ttlMs });
  };
  const fresh = <T>(entry: { value: T; until: number } | undefined) =>
    entry && entry.until > now() ? entry.value : undefined;

  return {
    async identify(ref) {
      const cached = fresh(identities.get(ref));
      if (cached) return cached;
      let instance: InstanceIdentity | undefined;
      try {
        instance = (await options.instances.getInstance({ id: ref })).instance;
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.NotFound) instance = undefined;
        else throw upstreamFailure("instances", error, options.logger);
      }
      if (!instance?.id) throw new McpProxyError(404, `instance ${JSON.stringify(ref)} not found`);
      const identity = { id: instance.id, name: instance.name };
      remember(identities, ref, identity);
      return identity;
    },

    async endpoint(instance) {
      const cached = fresh(endpoints.get(instance.id));
      if (cached) return cached;
      const notRunning = (state: string) =>
        new McpProxyError(
          503,
          `instance ${JSON.stringify(instance.name)} is not running (${state})`,
        );
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
        throw upstreamFailure("runtime", error, options.logger);
      }
      if (!SERVING.has(answer.state) || answer.url === "") {
        throw notRunning(WorkloadState[answer.state] ?? "unknown");
      }
      const endpoint: McpEndpoint = {
        instanceId: instance.id,
        url: answer.url,
        headers: { ...answer.headers },
        generation: answer.generation,
      };
      remember(endpoints, instance.id, endpoint);
      return endpoint;
    },

    invalidate(instanceId) {
      endpoints.delete(instanceId);
      for (const [ref, entry] of identities) {
        if (entry.value.id === instanceId) identities.delete(ref);
      }
    },
  };
}

function upstreamFailure(service: string, error: unknown, logger: Logger): McpProxyError {
  logger.warn({ err: error, service }, "instance lookup failed");
  return new McpProxyError(503, `the ${service} service is not answering; try again`, {
    "retry-after": "1",
  });
}
