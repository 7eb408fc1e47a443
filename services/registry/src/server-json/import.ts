import { invalidArgument } from "@berth/platform";
import {
  type McpServer,
  McpServerSchema,
  RepositorySchema,
  ServerStatus,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import { isHttpUrl, isValidName, serverViolations } from "../validation/server-validation.js";
import { isObject, type JsonObject, JsonReader } from "./json-reader.js";
import { readPackages } from "./packages.js";
import { remoteFromJson } from "./remotes.js";

/** The server.json schema Berth reads and writes. */
export const SCHEMA_URL =
  "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

const VERSION_RANGE = /^(latest|[\^~<>=].*)$|\|\||\s-\s|(^|\.)[xX*](\.|$)/;

/** A server.json document mapped to a catalog entry (no id yet), with what could not be mapped. */
export interface ImportedServer {
  server: McpServer;
  warnings: string[];
}

/** Maps a server.json (schema 2025-12-11) to a catalog entry; bad fields are INVALID_ARGUMENT under server_json. */
export function serverFromServerJson(doc: unknown): ImportedServer {
  if (!isObject(doc)) {
    throw invalidArgument([{ field: "server_json", description: "must be a JSON object" }]);
  }
  const r = new JsonReader("server_json");
  const schema = r.string(doc, "$schema", "");
  if (schema && schema !== SCHEMA_URL)
    r.warnings.push(`$schema ${schema} was read as ${SCHEMA_URL}`);
  const name = r.string(doc, "name", "", true) ?? "";
  if (name && !isValidName(name))
    r.fail("name", "must be a reverse-DNS name such as io.github.acme/weather (or a slug)");
  const description = r.string(doc, "description", "", true) ?? "";
  if (description.length > 100) r.fail("description", "must be at most 100 characters");
  const version = r.string(doc, "version", "", true) ?? "";
  if (version.length > 255 || VERSION_RANGE.test(version))
    r.fail("version", "must be one specific version (at most 255 characters), not a range");
  const title = r.string(doc, "title", "") ?? "";
  if (title.length > 100) r.fail("title", "must be at most 100 characters");
  const websiteUrl = r.string(doc, "websiteUrl", "") ?? "";
  if (websiteUrl && !isHttpUrl(websiteUrl)) r.fail("websiteUrl", "must be an http or https URL");
  const repository = readRepository(r, doc);
  const mapped = readPackages(r, doc);
  const remotes = r
    .objects(doc, "remotes", "")
    .map((remote, i) => remoteFromJson(r, remote, `remotes[${i}]`));
  if (r.violations.length > 0) throw invalidArgument(r.violations);
  const server = create(McpServerSchema, {
    name,
    title,
    description,
    version,
    status: ServerStatus.ACTIVE,
    websiteUrl,
    repository,
    remotes,
    ...mapped,
  });
  // What the document cannot say wrong by its own rules but Berth refuses (e.g. an image reference).
  const rest = serverViolations(server, "server_json");
  if (rest.length > 0) throw invalidArgument(rest);
  return { server, warnings: r.warnings };
}

function readRepository(r: JsonReader, doc: JsonObject) {
  const repo = r.object(doc, "repository", "");
  if (!repo) return undefined;
  const url = r.string(repo, "url", "repository", true) ?? "";
  if (url && !isHttpUrl(url)) r.fail("repository.url", "must be an http or https URL");
  return create(RepositorySchema, {
    url,
    source: r.string(repo, "source", "repository", true) ?? "",
    id: r.string(repo, "id", "repository") ?? "",
    subfolder: r.string(repo, "subfolder", "repository") ?? "",
  });
}
