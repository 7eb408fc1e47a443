import { loadConfig } from "@berth/platform";
import { serviceMeshEnv, testLogger } from "../../../../test/support/mesh.js";
import { gatewayEnv, startGateway } from "../../src/index.js";
import type { KeyedMesh } from "./gateway-mesh.js";

/** A second gateway process's worth of gateway: same database, NATS and services as the mesh's. */
export interface GatewayReplica {
  url: string;
  /** A REST call through this replica with a key (the mesh's admin key unless another is given). */
  rest(method: string, path: string, body?: unknown, key?: string | null): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Starts one more gateway on the mesh (another replica behind the same load balancer would be
 * the same): its own caches, rate-limit view and MCP sessions, everything else shared.
 */
export async function startGatewayReplica(
  mesh: KeyedMesh,
  engines: Parameters<typeof serviceMeshEnv>[1],
  env: Record<string, string> = {},
): Promise<GatewayReplica> {
  const config = loadConfig(gatewayEnv, {
    ...mesh.env,
    ...serviceMeshEnv("gateway", engines),
    ...env,
  });
  const gateway = await startGateway(config, testLogger("gateway-b"), { print: () => {} });
  const rest = (method: string, path: string, body?: unknown, key: string | null = mesh.adminKey) =>
    fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return { url: gateway.url, rest, stop: () => gateway.stop() };
}
