import { type McpServer, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { SCHEMA_URL } from "./import.js";
import { inputToJson } from "./inputs.js";
import { isObject, type JsonObject } from "./json-reader.js";
import { primaryPackage } from "./packages.js";
import { remoteToJson } from "./remotes.js";
import { transportToJson } from "./transport.js";

/**
 * The server.json (schema 2025-12-11) of an entry. An imported entry starts from its kept document,
 * so what Berth does not model (other packages, placeholders, _meta…) survives, and an entry
 * unchanged since import exports exactly the document it came from.
 */
export function serverJsonFromServer(server: McpServer, original: JsonObject | null): JsonObject {
  const doc: JsonObject = original ? structuredClone(original) : { $schema: SCHEMA_URL };
  doc.name = server.name;
  setOptional(doc, "title", server.title.slice(0, 100));
  // description and version are required by the schema (description: 1 to 100 characters).
  doc.description = (server.description || server.title || server.name).slice(0, 100);
  doc.version = server.version || "0.0.0";
  setOptional(doc, "websiteUrl", server.websiteUrl);
  const repo = server.repository;
  if (repo?.url) {
    const out: JsonObject = { ...(isObject(doc.repository) ? doc.repository : {}) };
    out.url = repo.url;
    out.source = repo.source;
    setOptional(out, "id", repo.id);
    setOptional(out, "subfolder", repo.subfolder);
    doc.repository = out;
  } else delete doc.repository;
  exportPackages(doc, server);
  const oldRemotes = Array.isArray(doc.remotes) ? doc.remotes : [];
  if (server.remotes.length > 0)
    doc.remotes = server.remotes.map((remote, i) => remoteToJson(remote, oldRemotes[i]));
  else delete doc.remotes;
  return doc;
}

function exportPackages(doc: JsonObject, server: McpServer): void {
  const packages = Array.isArray(doc.packages) ? [...doc.packages] : [];
  let index = primaryPackage(packages);
  const primary = index === -1 ? undefined : (packages[index] as JsonObject);
  if (server.image && primary?.registryType !== "oci") {
    // An image set in Berth: a new oci package in front of the others.
    packages.unshift(newOciPackage(server));
    index = 0;
  } else if (!server.image && primary?.registryType === "oci") {
    packages.splice(index, 1); // the image was removed in Berth
    index = primaryPackage(packages);
  }
  const pkg = packages[index];
  if (isObject(pkg)) {
    const out: JsonObject = { ...pkg };
    if (out.registryType === "oci") out.identifier = server.image;
    const endpoint = { transport: server.transport, port: server.port, path: server.path };
    out.transport = transportToJson(endpoint, pkg.transport);
    const oldEnv = Array.isArray(pkg.environmentVariables)
      ? pkg.environmentVariables.filter(isObject)
      : [];
    const env = server.envSchema.map((input) =>
      inputToJson(
        input,
        oldEnv.find((e) => e.name === input.name),
        true,
      ),
    );
    if (env.length > 0) out.environmentVariables = env;
    else delete out.environmentVariables;
    packages[index] = out;
  }
  if (packages.length > 0) doc.packages = packages;
  else delete doc.packages;
}

function newOciPackage(server: McpServer): JsonObject {
  const pkg: JsonObject = { registryType: "oci", identifier: server.image };
  pkg.transport = transportToJson(
    { transport: server.transport || Transport.STDIO, port: server.port, path: server.path },
    undefined,
  );
  if (server.args.length > 0)
    pkg.packageArguments = server.args.map((value) => ({ type: "positional", value }));
  return pkg;
}

function setOptional(obj: JsonObject, key: string, value: string): void {
  if (value) obj[key] = value;
  else delete obj[key];
}
