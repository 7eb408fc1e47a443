import { Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { JsonObject, JsonReader } from "./json-reader.js";

/** server.json transport types and Berth's. */
export const TRANSPORT_TYPES: Record<string, Transport> = {
  stdio: Transport.STDIO,
  "streamable-http": Transport.STREAMABLE_HTTP,
  sse: Transport.SSE,
};

/** The server.json name of a transport. */
export function transportType(transport: Transport): string {
  if (transport === Transport.STREAMABLE_HTTP) return "streamable-http";
  if (transport === Transport.SSE) return "sse";
  return "stdio";
}

/** Where a container serves MCP: the transport, and the port and path for HTTP ones. */
export interface Endpoint {
  transport: Transport;
  port: number;
  path: string;
}

/** The port and path of a package transport URL such as http://localhost:3001/mcp. */
export function parseEndpointUrl(url: string): { port: number; path: string } | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
    const port = parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
    return { port, path: parsed.pathname };
  } catch {
    return undefined;
  }
}

/** Reads a package's transport; a URL with {variables} in its port cannot be run as a container. */
export function readPackageTransport(
  reader: JsonReader,
  pkg: JsonObject,
  path: string,
): Endpoint | undefined {
  const transport = reader.object(pkg, "transport", path);
  if (!transport) {
    reader.fail(`${path}.transport`, "is required");
    return undefined;
  }
  const type = reader.string(transport, "type", `${path}.transport`, true) ?? "";
  const kind = TRANSPORT_TYPES[type];
  if (kind === undefined) {
    reader.fail(`${path}.transport.type`, "must be stdio, streamable-http or sse");
    return undefined;
  }
  if (kind === Transport.STDIO) return { transport: kind, port: 0, path: "" };
  const url = reader.string(transport, "url", `${path}.transport`, true);
  if (!url) return undefined;
  const endpoint = parseEndpointUrl(url);
  if (!endpoint) {
    reader.fail(
      `${path}.transport.url`,
      "must be an http URL with a literal port, e.g. http://localhost:3001/mcp",
    );
    return undefined;
  }
  return { transport: kind, ...endpoint };
}

/** The server.json transport of an endpoint, keeping the original object when it still says the same. */
export function transportToJson(endpoint: Endpoint, original: unknown): JsonObject {
  const type = transportType(endpoint.transport);
  const before = typeof original === "object" && original !== null ? (original as JsonObject) : {};
  if (before.type === type) {
    if (endpoint.transport === Transport.STDIO) return before;
    const parsed = typeof before.url === "string" ? parseEndpointUrl(before.url) : undefined;
    if (parsed?.port === endpoint.port && parsed.path === endpoint.path) return before;
  }
  if (endpoint.transport === Transport.STDIO) return { type };
  return { ...before, type, url: `http://localhost:${endpoint.port}${endpoint.path}` };
}
