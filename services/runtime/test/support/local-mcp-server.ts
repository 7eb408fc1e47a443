import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

/** A real MCP server (the official SDK) on 127.0.0.1 that demands one header. */
export interface LocalMcpServer {
  url: string;
  /** Requests refused for a missing or wrong header. */
  refused: number;
  close(): Promise<void>;
}

/** Starts the server; every session gets its own McpServer with one tool, "shout". */
export async function startLocalMcpServer(header: {
  name: string;
  value: string;
}): Promise<LocalMcpServer> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const state = { refused: 0 };
  const server: Server = createServer(async (req, res) => {
    if (req.headers[header.name] !== header.value) {
      state.refused += 1;
      res.writeHead(401).end();
      return;
    }
    const id = req.headers["mcp-session-id"];
    let transport = typeof id === "string" ? sessions.get(id) : undefined;
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => {
          sessions.set(sid, transport!);
        },
        onsessionclosed: (sid) => void sessions.delete(sid),
      });
      const mcp = new McpServer({ name: "local-test-server", version: "1.0.0" });
      mcp.registerTool(
        "shout",
        { description: "Upper-cases a text", inputSchema: { text: z.string() } },
        async ({ text }) => ({ content: [{ type: "text", text: text.toUpperCase() }] }),
      );
      await mcp.connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    get refused() {
      return state.refused;
    },
    async close() {
      for (const transport of sessions.values()) await transport.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
