import { bind, createGrpcServer, type Logger, notFound } from "@berth/platform";
import { InstanceStatus, InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RuntimeService, type WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { meshIdentity } from "../../../../test/support/mesh.js";

/** One instance as the test double knows it. */
export interface FakeInstance {
  id: string;
  name: string;
  state: WorkloadState;
  url: string;
  headers: Record<string, string>;
  /** The runtime's driver; "url" (a remote upstream) unless a test says otherwise. */
  driver?: string;
}

/**
 * Test doubles of the two lookups the MCP proxy makes (InstancesService.GetInstance and
 * RuntimeService.ResolveEndpoint) as real gRPC servers; the MCP traffic itself is real.
 */
export async function startFakeLookup(
  instances: FakeInstance[],
  logger: Logger,
): Promise<{
  instancesAddr: string;
  runtimeAddr: string;
  calls: { resolve: number; list: number };
  stop(): Promise<void>;
}> {
  const calls = { resolve: 0, list: 0 };
  const find = (ref: string) => instances.find((i) => i.id === ref || i.name === ref);
  const instancesServer = createGrpcServer({
    services: [
      bind(InstancesService, {
        async getInstance(request) {
          const found = find(request.id);
          if (!found) throw notFound("instance", request.id);
          return { instance: { id: found.id, name: found.name, status: InstanceStatus.RUNNING } };
        },
        // One message, then open until the caller goes away: a :watch stream held open.
        async *watchInstance(request, context) {
          const found = find(request.id);
          if (!found) throw notFound("instance", request.id);
          yield { instance: { id: found.id, name: found.name, status: InstanceStatus.RUNNING } };
          await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
        },
        // Never answers: a call in flight when the service goes away (kill it with stop()).
        listInstances() {
          calls.list++;
          return new Promise<never>(() => {});
        },
      }),
    ],
    logger,
    identity: meshIdentity("instances"),
  });
  const runtimeServer = createGrpcServer({
    services: [
      bind(RuntimeService, {
        async resolveEndpoint(request) {
          calls.resolve++;
          const found = instances.find((i) => i.id === request.instanceId);
          if (!found) throw notFound("workload", request.instanceId);
          return {
            url: found.url,
            headers: found.headers,
            state: found.state,
            generation: 1n,
            driver: found.driver ?? "url",
          };
        },
      }),
    ],
    logger,
    identity: meshIdentity("runtime"),
  });
  const instancesPort = await instancesServer.listen(0);
  const runtimePort = await runtimeServer.listen(0);
  instancesServer.setServing(true);
  runtimeServer.setServing(true);
  return {
    instancesAddr: `127.0.0.1:${instancesPort}`,
    runtimeAddr: `127.0.0.1:${runtimePort}`,
    calls,
    async stop() {
      await instancesServer.shutdown(1_000);
      await runtimeServer.shutdown(1_000);
    },
  };
}
