import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { useEffect, useState } from "react";

/** Where an MCP session goes through the gateway: an instance or a virtual server. */
export type McpTarget =
  | { readonly kind: "instance"; readonly name: string }
  | { readonly kind: "virtual-server"; readonly name: string };

/** The gateway path of a target: /mcp/{instance} or /mcp/v/{virtual server}. */
export function mcpPath(target: McpTarget): string {
  const name = encodeURIComponent(target.name);
  return target.kind === "instance" ? `/mcp/${name}` : `/mcp/v/${name}`;
}

/** The bearer credential for the next request (the session's API key or a fresh access token). */
export type Bearer = () => Promise<string>;

/**
 * An MCP client session with a target through the gateway, with the console's credential as
 * bearer token (asked for on every request, so a refreshed access token is used at once). Tool
 * output schemas are checked by the cfworker validator, which needs no eval, so the console's
 * Content-Security-Policy can forbid it.
 */
export async function connectMcp(target: McpTarget, bearer: Bearer): Promise<Client> {
  const client = new Client(
    { name: "berth-console", version: "1.0.0" },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  const url = new URL(mcpPath(target), window.location.origin);
  await client.connect(
    new StreamableHTTPClientTransport(url, {
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set("authorization", `Bearer ${await bearer()}`);
        return fetch(input, { ...init, headers });
      },
    }),
  );
  return client;
}

export interface McpTool {
  name: string;
  description?: string | undefined;
  inputSchema: unknown;
}

/** An open MCP session with its tools/list, closed when the component goes or the target changes. */
export interface McpSession {
  readonly client: Client | undefined;
  readonly tools: readonly McpTool[] | undefined;
  readonly problem: string | undefined;
}

/** Opens a session with the target and lists its tools; `version` changing opens a fresh one. */
export function useMcpSession(
  target: McpTarget | undefined,
  bearer: Bearer,
  version = 0,
): McpSession {
  const [session, setSession] = useState<McpSession>({
    client: undefined,
    tools: undefined,
    problem: undefined,
  });
  const kind = target?.kind;
  const name = target?.name;
  // biome-ignore lint/correctness/useExhaustiveDependencies: version asks for a fresh session
  useEffect(() => {
    setSession({ client: undefined, tools: undefined, problem: undefined });
    if (!kind || !name) return;
    let open: Client | undefined;
    let cancelled = false;
    connectMcp({ kind, name }, bearer)
      .then(async (connected) => {
        open = connected;
        if (cancelled) return void connected.close();
        const { tools } = await connected.listTools();
        if (!cancelled) setSession({ client: connected, tools, problem: undefined });
      })
      .catch((err: unknown) => {
        if (!cancelled)
          setSession({
            client: undefined,
            tools: undefined,
            problem: `Could not open an MCP session: ${String(err)}`,
          });
      });
    return () => {
      cancelled = true;
      void open?.close();
    };
  }, [kind, name, bearer, version]);
  return session;
}
