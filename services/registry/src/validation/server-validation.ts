import { type FieldViolation, invalidArgument } from "@berth/platform";
import {
  type McpServer,
  ServerStatus,
  Transport,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { checkDelegation, createProblems, IDLE_LIMITS, UUID_PATTERN } from "@berth/spec";
import { HEADER_NAME, validateInputs } from "./env-schema-validation.js";

/** Simple slugs such as `everything`. */
const SLUG = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/;
/** Reverse-DNS names as the official MCP registry writes them, e.g. `io.github.acme/weather`. */
const REVERSE_DNS = /^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/;
/** Docker image references: [registry/]repository[:tag][@digest]. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key"]);

/** Whether a header carries a credential (never a fixed value of an entry). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name.toLowerCase());
}
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const UUID = UUID_PATTERN;

/** Whether a catalog name is acceptable (a slug or a reverse-DNS name, never a UUID: ids are). */
export function isValidName(name: string): boolean {
  if (UUID.test(name)) return false;
  if (SLUG.test(name)) return true;
  return name.length >= 3 && name.length <= 200 && REVERSE_DNS.test(name);
}

/** Whether text is an absolute http(s) URL, after replacing {variables} by a placeholder. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text.replace(/\{[^{}]*\}/g, "x"));
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** Checks a whole catalog entry; every problem is reported at once, each naming its field. */
export function validateServer(server: McpServer | undefined, prefix = "server"): void {
  if (!server) throw invalidArgument([{ field: prefix, description: "is required" }]);
  const violations = serverViolations(server, prefix);
  if (violations.length > 0) throw invalidArgument(violations);
}

/** The field violations of a catalog entry (empty when it is valid). */
export function serverViolations(server: McpServer, prefix = "server"): FieldViolation[] {
  const v: FieldViolation[] = [];
  const add = (field: string, description: string) =>
    v.push({ field: `${prefix}.${field}`, description });
  if (!server.name) add("name", "is required");
  else if (!isValidName(server.name))
    add("name", "must be a lowercase slug or a reverse-DNS name such as io.github.acme/weather");
  if (server.title.length > 255) add("title", "must be at most 255 characters");
  if (server.description.length > 10_000) add("description", "must be at most 10000 characters");
  if (server.version.length > 255) add("version", "must be at most 255 characters");
  const tags = new Set<string>();
  server.tags.forEach((tag, i) => {
    if (!TAG.test(tag)) add(`tags[${i}]`, "must be 1-64 letters, digits, '.', '_', ':' or '-'");
    else if (tags.has(tag)) add(`tags[${i}]`, "duplicates another tag");
    tags.add(tag);
  });
  if (server.tags.length > 50) add("tags", "must hold at most 50 tags");
  if (!(server.status in ServerStatus)) add("status", "is not a known status");
  if (!(server.transport in Transport)) add("transport", "is not a known transport");
  if (server.image && (server.image.length > 1024 || !IMAGE.test(server.image)))
    add("image", "must be a container image reference such as ghcr.io/acme/weather:1.0");
  const http = server.transport === Transport.STREAMABLE_HTTP || server.transport === Transport.SSE;
  if (server.port > 65535) add("port", "must be at most 65535");
  else if (http && server.image && server.port === 0)
    add("port", "is required for an HTTP transport");
  else if (!http && server.port !== 0) add("port", "applies only to HTTP transports");
  if (server.path && !http) add("path", "applies only to HTTP transports");
  const idleMax = IDLE_LIMITS.maxTimeoutSeconds;
  if (server.idleTimeoutSeconds < 0 || server.idleTimeoutSeconds > idleMax)
    add("idle_timeout_seconds", `must be from 0 (no default) to ${idleMax} seconds`);
  else if (server.idleTimeoutSeconds > 0 && !server.image)
    add("idle_timeout_seconds", "applies only to entries with an image (url instances never idle)");
  else if (server.path && (!server.path.startsWith("/") || server.path.length > 1024))
    add("path", "must start with / (at most 1024 characters)");
  for (const key of ["command", "args"] as const) {
    server[key].forEach((part, i) => {
      if (part.includes("\0") || part.length > 4096)
        add(`${key}[${i}]`, "must be at most 4096 characters, without NUL");
    });
  }
  v.push(...validateInputs(server.envSchema, `${prefix}.env_schema`));
  server.remotes.forEach((remote, i) => {
    const at = `remotes[${i}]`;
    if (remote.transport !== Transport.STREAMABLE_HTTP && remote.transport !== Transport.SSE)
      add(`${at}.transport`, "must be TRANSPORT_STREAMABLE_HTTP or TRANSPORT_SSE");
    if (!remote.url) add(`${at}.url`, "is required");
    else if (!isHttpUrl(remote.url)) add(`${at}.url`, "must be an http or https URL");
    for (const name of Object.keys(remote.headers)) {
      if (!HEADER_NAME.test(name))
        add(`${at}.headers`, `${JSON.stringify(name)} is not a header name`);
      // Fixed headers are shown in every response and event: credentials go in header_schema.
      else if (isCredentialHeader(name))
        add(
          `${at}.headers`,
          `${name} carries a credential: declare it in header_schema as a secret`,
        );
    }
    const headerRule = { name: HEADER_NAME, nameRule: "must be an HTTP header name" };
    v.push(...validateInputs(remote.headerSchema, `${prefix}.${at}.header_schema`, headerRule));
    const variableRule = { name: VARIABLE, nameRule: "must be a variable name" };
    v.push(...validateInputs(remote.variables, `${prefix}.${at}.variables`, variableRule));
    if (remote.delegation !== undefined) {
      // The one definition of json_spec.delegation (packages/spec): instances take it as is.
      const problems = createProblems();
      checkDelegation(remote.delegation, `${prefix}.${at}.delegation`, problems);
      v.push(...problems.list);
      if (remote.delegation.client_secret !== undefined)
        add(
          `${at}.delegation.client_secret`,
          "is each instance's own (its write-only DELEGATION_CLIENT_SECRET), never the catalog's",
        );
    }
  });
  if (server.websiteUrl && (server.websiteUrl.length > 2048 || !isHttpUrl(server.websiteUrl)))
    add("website_url", "must be an http or https URL (at most 2048 characters)");
  const repo = server.repository;
  if (repo && (repo.url || repo.source || repo.id || repo.subfolder)) {
    if (!isHttpUrl(repo.url)) add("repository.url", "must be an http or https URL");
    if (!repo.source) add("repository.source", "is required (e.g. github)");
  }
  return v;
}
