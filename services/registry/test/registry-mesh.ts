import { randomBytes } from "node:crypto";
import { type MeshEngines, startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { type RestAnswer, restClient } from "./rest-client.js";

/** A mesh of the registry and the gateway, with a REST client that presents an admin key. */
export interface RegistryMesh extends TestMesh {
  rest(method: string, path: string, body?: unknown): Promise<RestAnswer>;
}

/** Starts the registry (starter catalog off unless env says otherwise) behind the gateway. */
export async function startRegistryMesh(
  engines: MeshEngines,
  env: Record<string, string> = {},
): Promise<RegistryMesh> {
  // The gateway's bootstrap admin key format: berth_<16 hex>_<32+ of A-Z a-z 0-9 _ ->.
  const key = `berth_${randomBytes(8).toString("hex")}_${randomBytes(24).toString("base64url")}`;
  const mesh = await startMesh(engines, {
    services: ["registry"],
    env: { REGISTRY_LOAD_CATALOG: "false", BERTH_BOOTSTRAP_API_KEY: key, ...env },
  });
  return Object.assign(mesh, { rest: restClient(mesh.gateway.url, key) });
}
