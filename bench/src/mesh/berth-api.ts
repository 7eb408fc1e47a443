import { createServiceClient } from "@berth/platform";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { waitUntil } from "../support/stats.js";
import type { BenchMesh } from "./bench-mesh.js";

/** The REST answer of the gateway. */
export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Calls through the gateway's REST API and straight to the services over gRPC. */
export interface BerthApi {
  rest(method: string, path: string, body?: unknown): Promise<RestAnswer>;
  /** Creates an instance over REST; throws unless 200. Returns its id. */
  createInstance(instance: Record<string, unknown>): Promise<string>;
  /** Waits until the instance has the status (e.g. INSTANCE_STATUS_RUNNING). */
  waitForStatus(id: string, status: string, timeoutMs: number): Promise<void>;
  /** Deletes over REST and waits until the instance is gone. */
  deleteInstance(id: string, timeoutMs: number): Promise<void>;
  grpc: {
    registry: ReturnType<typeof createServiceClient<typeof RegistryService>>;
    instances: ReturnType<typeof createServiceClient<typeof InstancesService>>;
    runtime: ReturnType<typeof createServiceClient<typeof RuntimeService>>;
  };
}

/** The API of a bench mesh (REST needs the gateway; gRPC the services that run). */
export function berthApi(mesh: BenchMesh): BerthApi {
  const headers = {
    authorization: `Bearer ${mesh.apiKey}`,
    "content-type": "application/json",
  };
  const rest = async (method: string, path: string, body?: unknown): Promise<RestAnswer> => {
    const response = await fetch(`${mesh.gatewayUrl}${path}`, {
      method,
      headers,
      signal: AbortSignal.timeout(30_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  };
  const client = <
    S extends typeof RegistryService | typeof InstancesService | typeof RuntimeService,
  >(
    service: S,
    name: "registry" | "instances" | "runtime",
  ) =>
    mesh.services[name]
      ? createServiceClient(service, mesh.address(name), {
          identity: mesh.authority.identity("gateway"),
          defaultTimeoutMs: 30_000,
        })
      : (undefined as never);
  return {
    rest,
    async createInstance(instance) {
      const answer = await rest("POST", "/v1/instances", { instance });
      if (answer.status !== 200) {
        throw new Error(
          `POST /v1/instances answered ${answer.status}: ${JSON.stringify(answer.body)}`,
        );
      }
      return answer.body.id as string;
    },
    async waitForStatus(id, status, timeoutMs) {
      await waitUntil(
        `instance ${id} ${status}`,
        async () =>
          (await rest("GET", `/v1/instances/${id}`)).body.status === status ? true : undefined,
        timeoutMs,
        50,
      );
    },
    async deleteInstance(id, timeoutMs) {
      await rest("DELETE", `/v1/instances/${id}`);
      await waitUntil(
        `instance ${id} deleted`,
        async () => ((await rest("GET", `/v1/instances/${id}`)).status === 404 ? true : undefined),
        timeoutMs,
        100,
      );
    },
    grpc: {
      registry: client(RegistryService, "registry"),
      instances: client(InstancesService, "instances"),
      runtime: client(RuntimeService, "runtime"),
    },
  };
}
