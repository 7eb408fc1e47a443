import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";

/**
 * An MCP client session with one instance through the gateway's proxy (/mcp/{instance}), the
 * API key as bearer token. Tool output schemas are checked by the cfworker validator, which
 * needs no eval, so the console's Content-Security-Policy can forbid it.
 */
export async function connectInstance(instanceName: string, apiKey: string): Promise<Client> {
  const client = new Client(
    { name: "berth-console", version: "1.0.0" },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  const url = new URL(`/mcp/${encodeURIComponent(instanceName)}`, window.location.origin);
  await client.connect(
    new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { authorization: `Bearer ${apiKey}` } },
    }),
  );
  return client;
}
