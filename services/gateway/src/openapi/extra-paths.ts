import type { JsonObject } from "@bufbuild/protobuf";

const errorResponse = {
  description: "An error.",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
};

/** The REST error body: `{"error":{code,status,message,details}}` (details hold field violations). */
export function errorSchema(): JsonObject {
  return {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "integer", description: "The HTTP status." },
          status: { type: "string", description: "The RPC code, e.g. INVALID_ARGUMENT." },
          message: { type: "string" },
          details: {
            type: "array",
            items: {
              type: "object",
              properties: {
                "@type": { type: "string" },
                fieldViolations: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { field: { type: "string" }, description: { type: "string" } },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}

/** The gateway's own paths: health, this document, the API page and the MCP proxy. */
export function extraPaths(): Record<string, JsonObject> {
  const open = (summary: string, type: string): JsonObject => ({
    get: {
      tags: ["Gateway"],
      summary,
      security: [],
      responses: { "200": { description: "OK", content: { [type]: {} } } },
    },
  });
  const mcp = (summary: string): JsonObject => ({
    tags: ["MCP"],
    summary,
    description:
      "MCP Streamable HTTP, proxied to the instance. Needs the `mcp` scope (or admin) and, for keys limited to instances, the instance on the list.",
    "x-berth-scope": "mcp",
    parameters: [
      {
        name: "instance",
        in: "path",
        required: true,
        description: "The instance's id or name.",
        schema: { type: "string" },
      },
    ],
    responses: {
      "200": { description: "The MCP server's answer (application/json or text/event-stream)." },
      "404": { description: "Unknown instance: a JSON-RPC error." },
      "503": { description: "The instance is not running: a JSON-RPC error." },
      default: errorResponse,
    },
  });
  return {
    "/healthz": open("The process is alive.", "application/json"),
    "/readyz": open("The services, NATS and the database answer.", "application/json"),
    "/openapi.json": open("This document.", "application/json"),
    "/docs": open("The API reference as a page.", "text/html"),
    "/mcp/{instance}": {
      post: mcp("Sends JSON-RPC messages to the instance's MCP server."),
      get: mcp("Opens the server-sent event stream of a session."),
      delete: mcp("Ends a session (Mcp-Session-Id header)."),
    },
  };
}
