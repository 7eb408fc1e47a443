import { type McpServer, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { JsonObject } from "@bufbuild/protobuf";
import type { EndpointPolicy } from "./endpoint-policy.js";
import { buildEnvironment } from "./environment.js";
import { isObject, type Problems } from "./problems.js";
import { checkDockerShape, checkUrlShape } from "./spec-shape.js";
import type { SecretContext } from "./types.js";
import { buildUrlAuthentication } from "./url-auth.js";

/** What buildSpec needs: the raw spec, its catalog entry (if any) and the secret context. */
export interface BuildSpecInput {
  raw: JsonObject | undefined;
  /** Field path of the spec, e.g. `instance.json_spec`. */
  at: string;
  /** The catalog entry; undefined when none was named or it could not be found. */
  server: McpServer | undefined;
  policy: EndpointPolicy;
  secrets: SecretContext;
}

/** A built spec: normalised, defaults filled, secret values replaced by references. */
export interface BuiltSpec {
  type: "docker" | "url" | undefined;
  spec: JsonObject;
}

const TRANSPORT_NAMES: Partial<Record<Transport, string>> = {
  [Transport.STDIO]: "stdio",
  [Transport.STREAMABLE_HTTP]: "streamable_http",
  [Transport.SSE]: "sse",
};

/** The spec's type: as given, else docker when the entry has an image, url when it has remotes. */
function typeOf(raw: JsonObject, server: McpServer | undefined): unknown {
  if (raw.type !== undefined) return raw.type;
  if (server?.image) return "docker";
  if (server && server.remotes.length > 0) return "url";
  return undefined;
}

/** Docker defaults from the catalog entry, for fields the spec leaves out. */
function dockerDefaults(server: McpServer | undefined): JsonObject {
  const defaults: JsonObject = { transport: "stdio" };
  if (!server) return defaults;
  if (server.image) defaults.image = server.image;
  defaults.transport = TRANSPORT_NAMES[server.transport] ?? "stdio";
  if (server.port > 0) defaults.port = server.port;
  if (server.path) defaults.path = server.path;
  // The runtime runs command as the entrypoint and args as its arguments.
  if (server.command.length > 0) defaults.command = [...server.command];
  if (server.args.length > 0) defaults.args = [...server.args];
  return defaults;
}

/** Url defaults from the catalog entry's first remote. */
function urlDefaults(server: McpServer | undefined): JsonObject {
  const remote = server?.remotes[0];
  if (!remote) return {};
  const transport = TRANSPORT_NAMES[remote.transport];
  return { endpoint: remote.url, ...(transport && transport !== "stdio" ? { transport } : {}) };
}

/** Validates and normalises a json_spec; every problem goes to `problems`. */
export function buildSpec(input: BuildSpecInput, problems: Problems): BuiltSpec {
  const { at, server } = input;
  const raw = input.raw ?? {};
  const type = typeOf(raw, server);
  if (type === undefined) {
    problems.add(`${at}.type`, "is required (docker or url)");
    return { type: undefined, spec: raw };
  }
  if (type === "docker") {
    const spec: JsonObject = { ...dockerDefaults(server), ...raw, type };
    checkDockerShape(spec, at, problems);
    if (server) {
      const catalog = { serverName: server.name, variables: server.envSchema };
      const env = buildEnvironment(
        raw.environment,
        `${at}.environment`,
        catalog,
        input.secrets,
        problems,
      );
      if (Object.keys(env).length > 0) spec.environment = env;
      else delete spec.environment;
    } else if (raw.environment !== undefined && !isObject(raw.environment)) {
      problems.add(`${at}.environment`, "must be an object of variables");
    }
    return { type, spec };
  }
  if (type === "url") {
    const spec: JsonObject = { ...urlDefaults(server), ...raw, type };
    checkUrlShape(spec, at, input.policy, problems);
    const auth = buildUrlAuthentication(
      raw.authentication,
      `${at}.authentication`,
      input.secrets,
      problems,
    );
    if (auth) spec.authentication = auth;
    else delete spec.authentication;
    return { type, spec };
  }
  problems.add(`${at}.type`, "must be docker or url");
  return { type: undefined, spec: raw };
}
