import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

/** Small MCP servers on 127.0.0.1 that url instances point at. */
export interface EchoServers {
  urls: string[];
  close(): Promise<void>;
}

/**
 * Starts `count` stateless MCP servers (the official SDK, one echo tool): every request gets a
 * fresh server, so thousands of health probes leave no session state behind.
 */
export async function startEchoServers(count: number): Promise<EchoServers> {
  const servers: Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer(async (req, res) => {
      const mcp = new McpServer({ name: `bench-echo-${i}`, version: "1.0.0" });
      mcp.registerTool(
        "echo",
        { description: "Echoes a message", inputSchema: { message: z.string() } },
        async ({ message }) => ({ content: [{ type: "text", text: `Echo: ${message}` }] }),
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
  }
  return {
    urls: servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/mcp`),
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
