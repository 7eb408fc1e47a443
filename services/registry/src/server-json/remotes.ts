import {
  type EnvVarSchema,
  type Remote,
  RemoteSchema,
  Transport,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import { HEADER_NAME, validateInputs } from "../validation/env-schema-validation.js";
import { isCredentialHeader, isHttpUrl } from "../validation/server-validation.js";
import { inputFromJson, inputToJson, jsonInputPath } from "./inputs.js";
import { isObject, type JsonObject, type JsonReader } from "./json-reader.js";
import { TRANSPORT_TYPES, transportType } from "./transport.js";

const VARIABLE_RULES = { name: /^[A-Za-z_][A-Za-z0-9_-]*$/, nameRule: "must be a variable name" };
const HEADER_RULES = { name: HEADER_NAME, nameRule: "must be an HTTP header name" };

/**
 * A server.json remote as a Remote: headers with a fixed, non-secret value go to `headers`, the
 * ones each instance provides to `header_schema`; URL variables to `variables`.
 */
export function remoteFromJson(reader: JsonReader, remote: JsonObject, path: string): Remote {
  const type = reader.string(remote, "type", path, true) ?? "";
  const transport = TRANSPORT_TYPES[type];
  if (transport !== Transport.STREAMABLE_HTTP && transport !== Transport.SSE && type)
    reader.fail(`${path}.type`, "must be streamable-http or sse");
  const url = reader.string(remote, "url", path, true) ?? "";
  if (url && !isHttpUrl(url)) reader.fail(`${path}.url`, "must be an http or https URL");
  const headers: Record<string, string> = {};
  const headerSchema: EnvVarSchema[] = [];
  const headerPaths: string[] = [];
  reader.objects(remote, "headers", path).forEach((header, j) => {
    const at = `${path}.headers[${j}]`;
    const name = reader.string(header, "name", at, true) ?? "";
    const fixed = typeof header.value === "string" && header.isSecret !== true;
    const plain = HEADER_NAME.test(name) && !isCredentialHeader(name);
    if (fixed && header.variables === undefined && plain) {
      headers[name] = header.value as string;
      return;
    }
    headerSchema.push(inputFromJson(reader, header, at, name));
    headerPaths.push(`${reader.root}.${at}`);
  });
  const variables: EnvVarSchema[] = [];
  const variablePaths: string[] = [];
  for (const [key, value] of Object.entries(reader.object(remote, "variables", path) ?? {})) {
    const at = `${path}.variables.${key}`;
    if (!isObject(value)) reader.fail(at, "must be an object");
    else variables.push(inputFromJson(reader, value, at, key));
    variablePaths.push(`${reader.root}.${at}`);
  }
  for (const v of [
    ...validateInputs(headerSchema, "", HEADER_RULES, headerPaths),
    ...validateInputs(variables, "", VARIABLE_RULES, variablePaths),
  ]) {
    reader.violations.push({ field: jsonInputPath(v.field), description: v.description });
  }
  return create(RemoteSchema, {
    transport: transport ?? Transport.UNSPECIFIED,
    url,
    headers,
    headerSchema,
    variables,
  });
}

/** The server.json form of a remote, merged into the document's original remote at that index. */
export function remoteToJson(remote: Remote, original: unknown): JsonObject {
  const before = isObject(original) ? original : {};
  const out: JsonObject = { ...before, type: transportType(remote.transport), url: remote.url };
  const oldHeaders = Array.isArray(before.headers) ? before.headers.filter(isObject) : [];
  const byName = new Map(oldHeaders.map((h) => [h.name, h]));
  const headers: JsonObject[] = [];
  const fixed = new Map(Object.entries(remote.headers));
  const asked = new Map(remote.headerSchema.map((h) => [h.name, h]));
  // Keep the document's order for headers still there, then append new ones.
  const names = [...oldHeaders.map((h) => String(h.name)), ...fixed.keys(), ...asked.keys()];
  for (const name of new Set(names)) {
    const old = byName.get(name);
    const input = asked.get(name);
    if (input) headers.push(inputToJson(input, old, true));
    else if (fixed.has(name)) headers.push(fixedHeader(name, fixed.get(name) ?? "", old));
  }
  if (headers.length > 0) out.headers = headers;
  else delete out.headers;
  const oldVariables = isObject(before.variables) ? before.variables : {};
  const variables: JsonObject = {};
  for (const input of remote.variables) {
    const old = oldVariables[input.name];
    variables[input.name] = inputToJson(input, isObject(old) ? old : undefined, false);
  }
  if (remote.variables.length > 0) out.variables = variables;
  else delete out.variables;
  return out;
}

function fixedHeader(name: string, value: string, old: JsonObject | undefined): JsonObject {
  if (old && old.value === value && old.isSecret !== true) return old;
  return { ...old, name, value };
}
