import {
  type MeshEngines,
  type MeshService,
  startMesh,
  type TestMesh,
} from "../../../../test/support/mesh.js";
import { generateApiKey } from "../../src/api-keys/key-format.js";

/** A test mesh whose bootstrap admin key is known (BERTH_BOOTSTRAP_API_KEY). */
export interface KeyedMesh extends TestMesh {
  adminKey: string;
  /** A REST call with a key (the admin key unless another is given; null sends none). */
  rest(method: string, path: string, body?: unknown, key?: string | null): Promise<Response>;
}

/** Starts the mesh with a preset bootstrap admin key. */
export async function startKeyedMesh(
  engines: MeshEngines,
  options: { services?: MeshService[]; env?: Record<string, string> } = {},
): Promise<KeyedMesh> {
  const adminKey = generateApiKey().key;
  const mesh = await startMesh(engines, {
    ...options,
    env: { BERTH_BOOTSTRAP_API_KEY: adminKey, ...options.env },
  });
  const rest = (method: string, path: string, body?: unknown, key: string | null = adminKey) =>
    fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return Object.assign(mesh, { adminKey, rest });
}

/** Creates an API key through the API with the admin key; returns its id and value. */
export async function createKey(
  mesh: KeyedMesh,
  apiKey: Record<string, unknown>,
): Promise<{ id: string; key: string }> {
  const response = await mesh.rest("POST", "/v1/apiKeys", { displayName: "test", ...apiKey });
  if (response.status !== 200)
    throw new Error(`CreateApiKey: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { apiKey: { id: string }; key: string };
  return { id: body.apiKey.id, key: body.key };
}
