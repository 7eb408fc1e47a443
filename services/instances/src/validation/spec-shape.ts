import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { type EndpointPolicy, endpointProblem } from "./endpoint-policy.js";
import { checkKnownKeys, isObject, type Problems } from "./problems.js";
import { MIN_MEMORY_BYTES, parseCpu, parseMemory } from "./quantities.js";

/** Transports a docker instance may speak. */
export const DOCKER_TRANSPORTS = ["stdio", "streamable_http"] as const;
/** Transports a url instance may speak (the runtime speaks Streamable HTTP only). */
export const URL_TRANSPORTS = ["streamable_http"] as const;

const DOCKER_FIELDS = [
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
];
const URL_FIELDS = ["type", "endpoint", "transport", "headers", "authentication", "health_check"];

function isInteger(value: JsonValue | undefined, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

function checkHealth(value: JsonValue | undefined, at: string, problems: Problems): void {
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
  if (typeof value.interval === "number" && typeof value.timeout === "number") {
    if (value.timeout > value.interval) problems.add(`${at}.timeout`, "must not exceed interval");
  }
}

function checkStrings(value: JsonValue | undefined, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    problems.add(at, "must be a list of strings");
    return;
  }
  value.forEach((part, index) => {
    if (typeof part !== "string") problems.add(`${at}[${index}]`, "must be a string");
  });
}

/** Url headers: plain values only (credentials belong in authentication, which is sealed). */
function checkHeaders(value: JsonValue | undefined, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object of header values");
    return;
  }
  for (const [name, header] of Object.entries(value)) {
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name))
      problems.add(`${at}.${name}`, "is not a header name");
    else if (/^(authorization|cookie|proxy-authorization)$/i.test(name))
      problems.add(
        `${at}.${name}`,
        "must be set through authentication, which is stored encrypted",
      );
    else if (typeof header !== "string") problems.add(`${at}.${name}`, "must be a string");
  }
}

function checkResources(value: JsonValue | undefined, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object");
    return;
  }
  checkKnownKeys(value, ["memory_limit", "cpu_limit", "pids_limit"], at, "resources", problems);
  const memory = value.memory_limit;
  if (memory !== undefined) {
    const bytes =
      typeof memory === "string"
        ? parseMemory(memory)
        : typeof memory === "number" && Number.isInteger(memory)
          ? memory
          : undefined;
    if (bytes === undefined)
      problems.add(`${at}.memory_limit`, "must be a memory quantity such as 256m, 1g or 512Mi");
    else if (bytes < MIN_MEMORY_BYTES) problems.add(`${at}.memory_limit`, "must be at least 6m");
  }
  const cpu = value.cpu_limit;
  if (cpu !== undefined) {
    const cpus = typeof cpu === "string" ? parseCpu(cpu) : typeof cpu === "number" ? cpu : NaN;
    if (cpus === undefined || !Number.isFinite(cpus))
      problems.add(`${at}.cpu_limit`, "must be a number of cpus such as 0.5 or 2");
    else if (cpus <= 0 || cpus > 64)
      problems.add(`${at}.cpu_limit`, "must be more than 0 and at most 64 cpus");
  }
  if (value.pids_limit !== undefined && !isInteger(value.pids_limit, 16, 32_768))
    problems.add(`${at}.pids_limit`, "must be a whole number from 16 to 32768");
}

/** Checks the shape of a docker spec (environment is checked against the catalog elsewhere). */
export function checkDockerShape(spec: JsonObject, at: string, problems: Problems): void {
  checkKnownKeys(spec, DOCKER_FIELDS, at, "a docker spec", problems);
  const { image, transport, port, path, command } = spec;
  if (image === undefined || image === "") problems.add(`${at}.image`, "is required");
  else if (typeof image !== "string" || /\s/.test(image) || image.length > 1024)
    problems.add(`${at}.image`, "must be an image reference without spaces");
  if (!DOCKER_TRANSPORTS.includes(transport as never))
    problems.add(`${at}.transport`, `must be one of ${DOCKER_TRANSPORTS.join(", ")}`);
  if (port === undefined) {
    if (transport !== "stdio" && typeof transport === "string")
      problems.add(`${at}.port`, `is required for transport ${transport}`);
  } else if (!isInteger(port, 1, 65535)) {
    problems.add(`${at}.port`, "must be a whole number from 1 to 65535");
  }
  if (path !== undefined && (typeof path !== "string" || !path.startsWith("/")))
    problems.add(`${at}.path`, "must be a path starting with /");
  checkStrings(command, `${at}.command`, problems);
  checkStrings(spec.args, `${at}.args`, problems);
  if (spec.user !== undefined && (typeof spec.user !== "string" || spec.user === ""))
    problems.add(`${at}.user`, "must be a user name or uid");
  checkResources(spec.resources, `${at}.resources`, problems);
  checkHealth(spec.health_check, `${at}.health_check`, problems);
}

/** Checks the shape of a url spec; the endpoint must be http(s) and allowed by the policy. */
export function checkUrlShape(
  spec: JsonObject,
  at: string,
  policy: EndpointPolicy,
  problems: Problems,
): void {
  checkKnownKeys(spec, URL_FIELDS, at, "a url spec", problems);
  const endpoint = spec.endpoint;
  if (endpoint === undefined || endpoint === "") problems.add(`${at}.endpoint`, "is required");
  else {
    let url: URL | undefined;
    try {
      url = typeof endpoint === "string" ? new URL(endpoint) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
      problems.add(`${at}.endpoint`, "must be an http:// or https:// URL");
    else if (url.username || url.password)
      problems.add(`${at}.endpoint`, "must not carry credentials (use authentication)");
    else {
      const problem = endpointProblem(url, policy);
      if (problem) problems.add(`${at}.endpoint`, problem);
    }
  }
  if (spec.transport !== undefined && !URL_TRANSPORTS.includes(spec.transport as never))
    problems.add(`${at}.transport`, `must be one of ${URL_TRANSPORTS.join(", ")}`);
  checkHeaders(spec.headers, `${at}.headers`, problems);
  checkHealth(spec.health_check, `${at}.health_check`, problems);
}
