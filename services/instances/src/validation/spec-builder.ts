import dns from "node:dns";
import { type McpServer, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import {
  type AddressPolicy,
  AUTH_TOKEN_SECRET,
  checkDockerSpec,
  checkEnvironment,
  checkSpecSize,
  checkUrlSpec,
  type DockerPolicy,
  endpointAddressProblem,
  isImageAllowed,
  isObject,
  isRootUser,
  type LookupFunction,
  type Problems,
  parseEndpoint,
  parseSecretRef,
  transportName,
} from "@berth/spec";
import type { JsonObject } from "@bufbuild/protobuf";
import { buildEnvironment } from "./environment.js";
import type { SecretContext } from "./types.js";
import { buildDelegationSecret, buildUrlAuthentication } from "./url-auth.js";

/** The admin settings a spec is checked against (BERTH_ALLOW_* and BERTH_ALLOWED_IMAGES). */
export interface SpecPolicy extends AddressPolicy, DockerPolicy {}

/** What buildSpec needs: the raw spec, its catalog entry (if any) and the secret context. */
export interface BuildSpecInput {
  raw: JsonObject | undefined;
  /** Field path of the spec, e.g. `instance.json_spec`. */
  at: string;
  /** The catalog entry; undefined when none was named or it could not be found. */
  server: McpServer | undefined;
  policy: SpecPolicy;
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

/** The admin's docker rules: the catalog's image (or an allowed one), and no root user. */
function checkDockerPolicy(
  spec: JsonObject,
  at: string,
  server: McpServer | undefined,
  policy: DockerPolicy,
  problems: Problems,
): void {
  const { image, user } = spec;
  // Without a catalog entry the instance is refused for that already (server_id is required).
  const shapeOk = !problems.list.some((p) => p.field === `${at}.image`);
  if (server && typeof image === "string" && shapeOk) {
    if (!isImageAllowed(image, server.image, policy)) {
      const own = server.image ? `the image of server "${server.name}" (${server.image})` : "";
      problems.add(
        `${at}.image`,
        `must be ${own || "an allowed image"}; an admin allows others with BERTH_ALLOWED_IMAGES`,
      );
    }
  }
  if (typeof user === "string" && isRootUser(user) && !policy.allowRootUser)
    problems.add(
      `${at}.user`,
      "must not be root (0 or root); an admin allows it with BERTH_ALLOW_ROOT_USER=true",
    );
}

/**
 * An http server's route to the host and the internet is the catalog entry's to grant (writing
 * the catalog needs an admin or write key): the spec carries the entry's `network_egress`, and a
 * request may only repeat it, never ask for more.
 */
function checkEgress(
  raw: JsonObject,
  spec: JsonObject,
  at: string,
  server: McpServer | undefined,
  problems: Problems,
) {
  const granted = server?.networkEgress === true;
  if (raw.network_egress !== undefined && raw.network_egress !== granted) {
    problems.add(
      `${at}.network_egress`,
      granted
        ? "must be true (the catalog entry grants egress) or left out"
        : "must be false or left out: egress is granted by the catalog entry (network_egress)",
    );
  }
  if (granted) spec.network_egress = true;
  else delete spec.network_egress;
}

/** Header values that are references must name a sealed value of this instance. */
function checkHeaderRefs(spec: JsonObject, at: string, ctx: SecretContext, problems: Problems) {
  if (!isObject(spec.headers)) return;
  for (const [name, value] of Object.entries(spec.headers)) {
    const ref = typeof value === "string" ? parseSecretRef(value) : undefined;
    if (!ref) continue;
    const sealed = ctx.stored.has(ref.name) || ctx.toStore.has(ref.name);
    if (ref.instanceId !== ctx.instanceId || ref.name !== AUTH_TOKEN_SECRET || !sealed)
      problems.add(`${at}.headers.${name}`, "is not a secret reference of this instance");
  }
}

/** Validates and normalises a json_spec; every problem goes to `problems`. */
export function buildSpec(input: BuildSpecInput, problems: Problems): BuiltSpec {
  const { at, server, policy } = input;
  const raw = input.raw ?? {};
  const type = typeOf(raw, server);
  if (type === undefined) {
    problems.add(`${at}.type`, "is required (docker or url)");
    return { type: undefined, spec: raw };
  }
  if (type === "docker") {
    const spec: JsonObject = { ...dockerDefaults(server), ...raw, type };
    const transport = transportName(spec.transport);
    if (transport) spec.transport = transport;
    checkDockerSpec(spec, at, problems, { environment: false });
    checkDockerPolicy(spec, at, server, policy, problems);
    checkEgress(raw, spec, at, server, problems);
    // The catalog entry's idle default, when the request names no idle policy of its own.
    if (raw.idle === undefined && server && server.idleTimeoutSeconds > 0)
      spec.idle = { timeout: server.idleTimeoutSeconds };
    if (server) {
      const catalog = { serverName: server.name, variables: server.envSchema };
      const env = buildEnvironment(
        raw.environment,
        `${at}.environment`,
        catalog,
        input.secrets,
        problems,
      );
      checkEnvironment(env, `${at}.environment`, problems);
      if (Object.keys(env).length > 0) spec.environment = env;
      else delete spec.environment;
    } else if (raw.environment !== undefined && !isObject(raw.environment)) {
      problems.add(`${at}.environment`, "must be an object of variables");
    }
    checkSpecSize(spec, at, problems);
    return { type, spec };
  }
  if (type === "url") {
    const spec: JsonObject = { ...urlDefaults(server), ...raw, type };
    // The catalog entry's default delegation, unless the instance gives its own or a shared
    // bearer token instead: stored in json_spec, the one place the gateway reads it from.
    const catalogDelegation = server?.remotes[0]?.delegation;
    const bearer =
      (isObject(raw.authentication) && raw.authentication.type !== "none") ||
      input.secrets.given[AUTH_TOKEN_SECRET] !== undefined;
    if (raw.delegation === undefined && catalogDelegation && !bearer)
      spec.delegation = { ...catalogDelegation };
    const transport = transportName(spec.transport);
    if (transport === "streamable_http") spec.transport = transport;
    checkUrlSpec(spec, at, problems, { authentication: false, policy });
    const auth = buildUrlAuthentication(
      raw.authentication,
      `${at}.authentication`,
      input.secrets,
      problems,
    );
    if (auth) spec.authentication = auth;
    else delete spec.authentication;
    const delegation = buildDelegationSecret(
      spec.delegation,
      `${at}.delegation`,
      input.secrets,
      problems,
    );
    if (delegation !== undefined) spec.delegation = delegation;
    checkHeaderRefs(spec, at, input.secrets, problems);
    checkSpecSize(spec, at, problems);
    return { type, spec };
  }
  problems.add(`${at}.type`, "must be docker or url");
  return { type: undefined, spec: raw };
}

/**
 * Resolves a url spec's endpoint host and refuses it when any address it resolves to is one the
 * policy forbids (a name in /etc/hosts or DNS pointing inside). Skipped when the endpoint already
 * has a problem. Names that do not resolve now are left to the connect-time check.
 */
export async function checkResolvedEndpoint(
  built: BuiltSpec,
  at: string,
  policy: AddressPolicy,
  problems: Problems,
  lookup: LookupFunction = dns.lookup as unknown as LookupFunction,
): Promise<void> {
  const field = `${at}.endpoint`;
  if (built.type !== "url" || problems.list.some((p) => p.field === field)) return;
  const url = parseEndpoint(built.spec.endpoint);
  if (typeof url === "string") return;
  const problem = await endpointAddressProblem(url, policy, lookup);
  if (problem) problems.add(field, problem);
}
