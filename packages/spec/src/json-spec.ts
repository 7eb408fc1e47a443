/**
 * The one definition of an instance's `json_spec`: the instances service validates with it, the
 * runtime reads with it (from events and its own rows), the CLI displays with it.
 *
 * ```json
 * { "type": "docker", "image": "…", "transport": "stdio" | "streamable_http", "port": 8080,
 *   "path": "/mcp", "command": ["…"], "args": ["…"], "user": "1000:1000",
 *   "environment": { "NAME": "value" | "secret_ref:<instance_id>:<NAME>" },
 *   "resources": { "memory_limit": "256m", "cpu_limit": "0.5", "pids_limit": 256 },
 *   "health_check": { "interval": 30, "timeout": 10 }, "network_egress": false,
 *   "idle": { "timeout": 600, "wake_timeout": 30 } }
 * { "type": "url", "endpoint": "https://…", "transport": "streamable_http",
 *   "headers": { "x-name": "value" }, "authentication": { "type": "bearer" | "none", "token": "…" },
 *   "delegation": { "type": "oauth", … } (delegation.ts: each user's own upstream grant)
 *     or { "type": "token_exchange", … } (token-exchange.ts: the caller's token exchanged per call),
 *   "health_check": { "interval": 30, "timeout": 10 } }
 * ```
 *
 * Decisions where the instances service and the runtime used to disagree (one rule everywhere now):
 * - `port` is optional for a streamable_http docker server: the instances service fills it from
 *   the catalog entry, and when neither names one the runtime uses the image's only exposed port.
 * - Memory has one grammar (`parseMemory`): bytes, or a number with k/m/g/t (also kb, ki, kib…),
 *   so `1t` is accepted everywhere; and one minimum, 6m (Docker's own), refused everywhere.
 * - `health_check.timeout` may exceed `interval`: the probe waits for its answer before the next
 *   interval starts, so the instances service no longer refuses it. Both are whole seconds 1–3600.
 * - Transport is `stdio` or `streamable_http`; `http`, `streamable-http` and the catalog's
 *   `TRANSPORT_*` spellings are read as aliases (the instances service stores the canonical name).
 * - `network_egress` (an http server's route to the host and the internet) is the catalog entry's
 *   to grant: the instances service sets it from the entry, whatever a request says.
 * - `idle` (idle-policy.ts) is a docker spec's only: url instances are never idled.
 * - Numbers are JSON numbers (`port`, `pids_limit`, health seconds); quantities may be text.
 * Every field has a length limit (see limits.ts) so nothing accepted can overflow a column.
 */
import { type AddressPolicy, classifyHost, classProblem } from "./address-policy.js";
import { checkDelegation, type DelegationSpec, readDelegation } from "./delegation.js";
import { checkHeaders } from "./headers.js";
import { checkIdle, type IdleSpec, readIdle } from "./idle-policy.js";
import { LIMITS } from "./limits.js";
import {
  checkKnownKeys,
  createProblems,
  type FieldProblem,
  hasControlCharacter,
  isObject,
  type JsonRecord,
  type Problems,
  scalarText,
} from "./problems.js";
import {
  DEFAULT_MEMORY_BYTES,
  MAX_CPUS,
  MIN_MEMORY_BYTES,
  parseCpu,
  parseMemory,
} from "./quantities.js";
import { isSecretRef, parseSecretRef, SECRET_NAME_PATTERN } from "./secret-ref.js";
import { readTokenExchange, type TokenExchangeSpec } from "./token-exchange.js";

/** How often and how patiently the MCP health probe runs. */
export interface HealthSpec {
  intervalMs: number;
  timeoutMs: number;
}

/** Container limits; every field has a default. */
export interface ResourceSpec {
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
}

/** A container workload (json_spec type "docker"), read with defaults. */
export interface DockerSpec {
  type: "docker";
  image: string;
  transport: "stdio" | "http";
  /** Container port of an http server; undefined means the image's only exposed port. */
  port?: number;
  path: string;
  command?: string[];
  args?: string[];
  /** Values may be `secret_ref:<instance>:<NAME>` until resolved. */
  environment: Record<string, string>;
  resources: ResourceSpec;
  /** Overrides the user the container runs as (default: the image's non-root user, else 65534). */
  user?: string;
  /**
   * An http server's network reaches the host and the internet (json_spec `network_egress`,
   * copied from the catalog entry by the instances service); false: an internal network.
   */
  networkEgress: boolean;
  health: HealthSpec;
  /** json_spec.idle; undefined: the deployment's default applies. */
  idle?: IdleSpec;
}

/** A remote MCP server that is watched, not run (json_spec type "url"), read with defaults. */
export interface UrlSpec {
  type: "url";
  endpoint: string;
  /** Values may be secret references until resolved. */
  headers: Record<string, string>;
  /** A bearer token (usually a secret reference) sent as `authorization`. */
  bearerToken?: string;
  /** Each user's own OAuth grant to the upstream (delegation.ts); exclusive with bearerToken. */
  delegation?: DelegationSpec;
  /** The caller's own token exchanged per call (token-exchange.ts); exclusive with the above. */
  tokenExchange?: TokenExchangeSpec;
  health: HealthSpec;
}

/** The runtime configuration of an instance, self-describing by type. */
export type RuntimeSpec = DockerSpec | UrlSpec;

/** Defaults for what a spec leaves out. */
export const SPEC_DEFAULTS = {
  transport: "stdio",
  path: "/mcp",
  memoryBytes: DEFAULT_MEMORY_BYTES,
  cpus: 1,
  pidsLimit: 256,
  healthIntervalSeconds: 30,
  healthTimeoutSeconds: 10,
} as const;

/** The spec types. */
export const SPEC_TYPES = ["docker", "url"] as const;
export type SpecType = (typeof SPEC_TYPES)[number];

/** Transports by canonical name. */
export type TransportName = "stdio" | "streamable_http";

const TRANSPORT_ALIASES: Record<string, TransportName> = {
  stdio: "stdio",
  transport_stdio: "stdio",
  streamable_http: "streamable_http",
  "streamable-http": "streamable_http",
  streamablehttp: "streamable_http",
  http: "streamable_http",
  transport_streamable_http: "streamable_http",
};

/** The canonical transport a spelling stands for; undefined when it is none. */
export function transportName(value: unknown): TransportName | undefined {
  return typeof value === "string" ? TRANSPORT_ALIASES[value.toLowerCase()] : undefined;
}

export const DOCKER_FIELDS = [
  "type",
  "image",
  "transport",
  "port",
  "path",
  "command",
  "args",
  "user",
  "environment",
  "resources",
  "health_check",
  "network_egress",
  "idle",
] as const;
export const URL_FIELDS = [
  "type",
  "endpoint",
  "transport",
  "headers",
  "authentication",
  "delegation",
  "health_check",
] as const;

const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** What the checks below may skip: parts the instances service builds against the catalog. */
export interface CheckOptions {
  /** Check environment names and values (the instances service checks them against env_schema). */
  environment?: boolean;
  /** Check authentication (the instances service moves a plain token out first). */
  authentication?: boolean;
  /** Refuse url endpoints whose host, as written, the policy forbids. */
  policy?: AddressPolicy;
  /** References must name this instance. */
  instanceId?: string;
}

function checkHealth(value: unknown, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object");
    return;
  }
  checkKnownKeys(value, ["interval", "timeout"], at, "a health check", problems);
  for (const key of ["interval", "timeout"]) {
    if (value[key] !== undefined && !isInteger(value[key], 1, 3_600))
      problems.add(`${at}.${key}`, "must be a whole number of seconds from 1 to 3600");
  }
}

function checkArgv(value: unknown, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    problems.add(at, "must be a list of strings");
    return;
  }
  if (value.length > LIMITS.argvItems)
    problems.add(at, `must have at most ${LIMITS.argvItems} items`);
  value.slice(0, LIMITS.argvItems).forEach((part, index) => {
    if (typeof part !== "string") problems.add(`${at}[${index}]`, "must be a string");
    else if (part.length > LIMITS.argvItem)
      problems.add(`${at}[${index}]`, `must be at most ${LIMITS.argvItem} characters`);
    else if (part.includes("\0")) problems.add(`${at}[${index}]`, "must not contain NUL");
  });
}

function checkResources(value: unknown, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object");
    return;
  }
  checkKnownKeys(value, ["memory_limit", "cpu_limit", "pids_limit"], at, "resources", problems);
  const memory = value.memory_limit;
  if (memory !== undefined) {
    const bytes =
      typeof memory === "string" || typeof memory === "number" ? parseMemory(memory) : undefined;
    if (bytes === undefined)
      problems.add(`${at}.memory_limit`, "must be a memory quantity such as 256m, 1g or 512Mi");
    else if (bytes < MIN_MEMORY_BYTES) problems.add(`${at}.memory_limit`, "must be at least 6m");
  }
  const cpu = value.cpu_limit;
  if (cpu !== undefined) {
    const cpus = typeof cpu === "string" || typeof cpu === "number" ? parseCpu(cpu) : undefined;
    if (cpus === undefined)
      problems.add(`${at}.cpu_limit`, "must be a number of cpus such as 0.5 or 2");
    else if (cpus <= 0 || cpus > MAX_CPUS)
      problems.add(`${at}.cpu_limit`, `must be more than 0 and at most ${MAX_CPUS} cpus`);
  }
  if (value.pids_limit !== undefined && !isInteger(value.pids_limit, 16, 32_768))
    problems.add(`${at}.pids_limit`, "must be a whole number from 16 to 32768");
}

/** Checks a value that may be a secret reference: well-formed and, when known, of this instance. */
function checkRef(value: string, at: string, options: CheckOptions, problems: Problems): void {
  if (!isSecretRef(value)) return;
  const ref = parseSecretRef(value);
  if (!ref) problems.add(at, "is not a well-formed secret reference");
  else if (options.instanceId !== undefined && ref.instanceId !== options.instanceId)
    problems.add(at, "is not a secret reference of this instance");
}

/** Checks an environment's names and values (scalars; limits; references well-formed). */
export function checkEnvironment(
  value: unknown,
  at: string,
  problems: Problems,
  options: CheckOptions = {},
): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object of variables");
    return;
  }
  const names = Object.keys(value);
  if (names.length > LIMITS.envVars)
    problems.add(at, `must have at most ${LIMITS.envVars} variables`);
  for (const name of names) {
    const field = `${at}.${name}`;
    const text = scalarText(value[name]);
    if (name.length > LIMITS.envName || !SECRET_NAME_PATTERN.test(name))
      problems.add(
        field,
        `is not a variable name (letters, digits and _, at most ${LIMITS.envName})`,
      );
    else if (text === undefined) problems.add(field, "must be a string, number or boolean");
    else if (text.length > LIMITS.envValue)
      problems.add(field, `must be at most ${LIMITS.envValue} characters`);
    else if (text.includes("\0")) problems.add(field, "must not contain NUL");
    else checkRef(text, field, options, problems);
  }
}

/** Checks a docker spec's shape and limits (defaults already merged in, or not). */
export function checkDockerSpec(
  spec: JsonRecord,
  at: string,
  problems: Problems,
  options: CheckOptions = {},
): void {
  checkKnownKeys(spec, DOCKER_FIELDS, at, "a docker spec", problems);
  const { image, port, path } = spec;
  if (image === undefined || image === "") problems.add(`${at}.image`, "is required");
  else if (typeof image !== "string" || /[\s\0]/.test(image) || hasControlCharacter(image))
    problems.add(`${at}.image`, "must be an image reference without spaces");
  else if (image.length > LIMITS.image)
    problems.add(`${at}.image`, `must be at most ${LIMITS.image} characters`);
  const transport = spec.transport === undefined ? "stdio" : transportName(spec.transport);
  if (!transport) problems.add(`${at}.transport`, "must be stdio or http (streamable_http)");
  if (port !== undefined && !isInteger(port, 1, 65535))
    problems.add(`${at}.port`, "must be a whole number from 1 to 65535");
  if (path !== undefined) {
    if (typeof path !== "string" || !path.startsWith("/"))
      problems.add(`${at}.path`, "must be a path starting with /");
    else if (path.length > LIMITS.path)
      problems.add(`${at}.path`, `must be at most ${LIMITS.path} characters`);
    else if (/\s/.test(path) || hasControlCharacter(path))
      problems.add(`${at}.path`, "must not contain spaces or control characters");
  }
  checkArgv(spec.command, `${at}.command`, problems);
  checkArgv(spec.args, `${at}.args`, problems);
  const user = spec.user;
  if (user !== undefined) {
    if (typeof user !== "string" || user.length > LIMITS.user || !USER.test(user))
      problems.add(`${at}.user`, "must be a user name or uid, optionally :group (like 1000:1000)");
  }
  if (options.environment !== false)
    checkEnvironment(spec.environment, `${at}.environment`, problems, options);
  checkResources(spec.resources, `${at}.resources`, problems);
  checkHealth(spec.health_check, `${at}.health_check`, problems);
  if (spec.network_egress !== undefined && typeof spec.network_egress !== "boolean")
    problems.add(`${at}.network_egress`, "must be true or false");
  checkIdle(spec.idle, `${at}.idle`, problems);
}

/** The endpoint as a URL, or the problem with it (shape and limits; the host policy apart). */
export function parseEndpoint(endpoint: unknown): URL | string {
  if (endpoint === undefined || endpoint === "") return "is required";
  if (typeof endpoint !== "string") return "must be an http:// or https:// URL";
  if (endpoint.length > LIMITS.endpoint) return `must be at most ${LIMITS.endpoint} characters`;
  // The URL parser silently drops tabs and newlines; refuse them instead.
  if (/\s/.test(endpoint) || hasControlCharacter(endpoint))
    return "must not contain spaces or control characters";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return "must be an http:// or https:// URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return "must be an http:// or https:// URL";
  if (url.username || url.password) return "must not carry credentials (use authentication)";
  if (url.href.length > LIMITS.endpoint) return `must be at most ${LIMITS.endpoint} characters`;
  return url;
}

function checkAuthentication(
  value: unknown,
  at: string,
  options: CheckOptions,
  problems: Problems,
): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object");
    return;
  }
  checkKnownKeys(value, ["type", "token"], at, "authentication", problems);
  const type = value.type ?? "bearer";
  if (type === "none") {
    if (value.token !== undefined)
      problems.add(`${at}.token`, "is not allowed with authentication type none");
  } else if (type !== "bearer") problems.add(`${at}.type`, "must be bearer or none");
  else if (typeof value.token !== "string" || value.token === "")
    problems.add(`${at}.token`, "is required for bearer authentication");
  else if (value.token.length > LIMITS.secretValue)
    problems.add(`${at}.token`, `must be at most ${LIMITS.secretValue} characters`);
  else checkRef(value.token, `${at}.token`, options, problems);
}

/** Checks a url spec's shape and limits; with a policy, also the endpoint's host as written. */
export function checkUrlSpec(
  spec: JsonRecord,
  at: string,
  problems: Problems,
  options: CheckOptions = {},
): void {
  const { idle, ...known } = spec;
  if (idle !== undefined)
    problems.add(`${at}.idle`, "is not allowed: url instances are never idled (nothing runs here)");
  checkKnownKeys(known, URL_FIELDS, at, "a url spec", problems);
  const url = parseEndpoint(spec.endpoint);
  if (typeof url === "string") problems.add(`${at}.endpoint`, url);
  else if (options.policy) {
    const reason = classProblem(classifyHost(url.hostname), options.policy);
    if (reason) problems.add(`${at}.endpoint`, `points at ${reason}`);
  }
  if (spec.transport !== undefined && transportName(spec.transport) !== "streamable_http")
    problems.add(`${at}.transport`, "must be streamable_http");
  checkHeaders(spec.headers, `${at}.headers`, problems);
  if (isObject(spec.headers)) {
    for (const [name, value] of Object.entries(spec.headers))
      if (typeof value === "string") checkRef(value, `${at}.headers.${name}`, options, problems);
  }
  if (options.authentication !== false)
    checkAuthentication(spec.authentication, `${at}.authentication`, options, problems);
  checkDelegation(spec.delegation, `${at}.delegation`, problems, spec.endpoint);
  if (
    spec.delegation !== undefined &&
    isObject(spec.authentication) &&
    spec.authentication.type !== "none"
  )
    problems.add(
      `${at}.delegation`,
      "is not allowed with bearer authentication: each user's own token is sent instead",
    );
  checkHealth(spec.health_check, `${at}.health_check`, problems);
}

/** Checks the size of the whole spec as JSON. */
export function checkSpecSize(spec: unknown, at: string, problems: Problems): void {
  const bytes = Buffer.byteLength(JSON.stringify(spec ?? {}), "utf8");
  if (bytes > LIMITS.specBytes)
    problems.add(at, `must be at most ${LIMITS.specBytes} bytes as JSON (it is ${bytes})`);
}

/** Checks a whole json_spec by its type. */
export function checkJsonSpec(
  json: unknown,
  at: string,
  problems: Problems,
  options: CheckOptions = {},
): void {
  if (!isObject(json)) {
    problems.add(at, "must be an object");
    return;
  }
  checkSpecSize(json, at, problems);
  if (json.type === "docker") checkDockerSpec(json, at, problems, options);
  else if (json.type === "url") checkUrlSpec(json, at, problems, options);
  else if (json.type === undefined) problems.add(`${at}.type`, "is required (docker or url)");
  else problems.add(`${at}.type`, "must be docker or url");
}

const health = (value: unknown): HealthSpec => {
  const h = isObject(value) ? value : {};
  const interval = (h.interval as number | undefined) ?? SPEC_DEFAULTS.healthIntervalSeconds;
  const timeout = (h.timeout as number | undefined) ?? SPEC_DEFAULTS.healthTimeoutSeconds;
  return { intervalMs: interval * 1000, timeoutMs: timeout * 1000 };
};

const texts = (value: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries(isObject(value) ? value : {}).map(([k, v]) => [k, scalarText(v) ?? ""]),
  );

/** A spec known to be valid, with its defaults filled, in the runtime's form. */
function toRuntimeSpec(spec: JsonRecord): RuntimeSpec {
  if (spec.type === "url") {
    const auth = isObject(spec.authentication) ? spec.authentication : undefined;
    return {
      type: "url",
      endpoint: spec.endpoint as string,
      headers: texts(spec.headers),
      bearerToken: auth && auth.type !== "none" ? (auth.token as string) : undefined,
      ...(readDelegation(spec.delegation) ? { delegation: readDelegation(spec.delegation)! } : {}),
      ...(readTokenExchange(spec.delegation)
        ? { tokenExchange: readTokenExchange(spec.delegation)! }
        : {}),
      health: health(spec.health_check),
    };
  }
  const r = isObject(spec.resources) ? spec.resources : {};
  const cpus = r.cpu_limit === undefined ? SPEC_DEFAULTS.cpus : parseCpu(r.cpu_limit as string)!;
  return {
    type: "docker",
    image: spec.image as string,
    transport: transportName(spec.transport ?? "stdio") === "stdio" ? "stdio" : "http",
    port: spec.port as number | undefined,
    path: (spec.path as string | undefined) ?? SPEC_DEFAULTS.path,
    command: spec.command as string[] | undefined,
    args: spec.args as string[] | undefined,
    environment: texts(spec.environment),
    resources: {
      memoryBytes:
        r.memory_limit === undefined
          ? SPEC_DEFAULTS.memoryBytes
          : parseMemory(r.memory_limit as string)!,
      nanoCpus: Math.round(cpus * 1e9),
      pidsLimit: (r.pids_limit as number | undefined) ?? SPEC_DEFAULTS.pidsLimit,
    },
    user: spec.user as string | undefined,
    networkEgress: spec.network_egress === true,
    health: health(spec.health_check),
    ...(spec.idle !== undefined ? { idle: readIdle(spec.idle) } : {}),
  };
}

/** The outcome of reading a json_spec: the spec, or every problem with a one-line message. */
export type ReadSpecResult =
  | { ok: true; spec: RuntimeSpec }
  | { ok: false; problems: FieldProblem[]; message: string };

/**
 * Reads a stored or received json_spec into the runtime's form, checking everything the
 * instances service checks except the catalog (env_schema) and the address policy, which
 * need the catalog and the admin settings (give `options.policy` to check literal hosts).
 */
export function readJsonSpec(
  json: unknown,
  options: CheckOptions & { at?: string } = {},
): ReadSpecResult {
  const at = options.at ?? "json_spec";
  const problems = createProblems();
  checkJsonSpec(json ?? {}, at, problems, options);
  if (problems.list.length > 0) {
    const text = problems.list.map((p) => `${p.field} ${p.description}`).join("; ");
    return { ok: false, problems: problems.list, message: `invalid json_spec: ${text}` };
  }
  return { ok: true, spec: toRuntimeSpec(json as JsonRecord) };
}

/** A json_spec that cannot be run: what a consumer refuses (and dead-letters) instead of applying. */
export class InvalidSpecError extends Error {
  override readonly name = "InvalidSpecError";
  readonly code = "ERR_BERTH_INVALID_SPEC";
  constructor(readonly problems: FieldProblem[]) {
    super(`invalid json_spec: ${problems.map((p) => `${p.field} ${p.description}`).join("; ")}`);
  }
}

/** Whether an error is an InvalidSpecError (also across copies of this module). */
export function isInvalidSpecError(error: unknown): error is InvalidSpecError {
  return (error as { code?: unknown } | null)?.code === "ERR_BERTH_INVALID_SPEC";
}

/** Reads a json_spec or throws InvalidSpecError naming every problem. */
export function readJsonSpecOrThrow(
  json: unknown,
  options: CheckOptions & { at?: string } = {},
): RuntimeSpec {
  const result = readJsonSpec(json, options);
  if (!result.ok) throw new InvalidSpecError(result.problems);
  return result.spec;
}
