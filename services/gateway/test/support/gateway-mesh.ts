import { Writable } from "node:stream";
import { createLogger, type Logger, loadConfig } from "@berth/platform";
import { expect } from "vitest";
import {
  type MeshEngines,
  type MeshService,
  serviceMeshEnv,
  startMesh,
  type TestMesh,
} from "../../../../test/support/mesh.js";
import { waitFor } from "../../../runtime/test/support/runtime-harness.js";
import { generateApiKey } from "../../src/api-keys/key-format.js";
import { type Gateway, gatewayEnv, startGateway } from "../../src/index.js";

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

/** Every API key scope: a user holding them all is limited by their team roles alone. */
export const ALL_SCOPES = [
  "API_KEY_SCOPE_ADMIN",
  "API_KEY_SCOPE_WRITE",
  "API_KEY_SCOPE_READ",
  "API_KEY_SCOPE_MCP",
  "API_KEY_SCOPE_METRICS",
];

/** A logger at debug whose JSON lines land in `lines` (a test reads what a gateway logged). */
export function memoryLogger(lines: string[], service = "gateway"): Logger {
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return createLogger({ service, level: "debug", destination });
}

/** A JSON REST call to a gateway with a bearer token: the status, the raw text and the parsed body. */
export async function bearerCall(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
}

/** A REST call of a test's admin: the status and the JSON body. */
export type AdminCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: Record<string, unknown> }>;

/** Creates an instance through the API and waits until it is RUNNING: its id. */
export async function createRunningInstance(
  admin: AdminCall,
  name: string,
  jsonSpec: Record<string, unknown>,
): Promise<string> {
  const created = await admin("POST", "/v1/instances", { instance: { name, jsonSpec } });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const id = created.body.id as string;
  await waitFor(
    `${name} RUNNING`,
    async () =>
      (await admin("GET", `/v1/instances/${id}`)).body.status === "INSTANCE_STATUS_RUNNING"
        ? true
        : undefined,
    60_000,
  );
  return id;
}

/**
 * A second gateway on the mesh's schema without the embedded authorization server, trusting
 * one external issuer by discovery: names from the `email` claim, teams from `groups` mapped by
 * `issuer.teams`, and whatever else `issuer` says (e.g. its tokenExchange client).
 */
export function startFederatedGateway(
  mesh: TestMesh,
  engines: MeshEngines,
  issuer: { issuer: string; teams: Record<string, Record<string, string>> } & Record<
    string,
    unknown
  >,
): Promise<Gateway> {
  return startGateway(
    loadConfig(gatewayEnv, {
      ...mesh.env,
      ...serviceMeshEnv("gateway", engines),
      HTTP_PORT: "0",
      BERTH_OAUTH_EMBEDDED: "false",
      BERTH_OAUTH_ISSUERS: JSON.stringify([
        { nameClaim: "email", groupsClaim: "groups", ...issuer },
      ]),
    }),
  );
}
