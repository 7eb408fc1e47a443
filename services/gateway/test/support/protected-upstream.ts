import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";

/** One request the upstream saw: the bearer token it carried and whom it verified as. */
export interface SeenRequest {
  /** The raw `authorization` header value, or "" when there was none. */
  authorization: string;
  /** The token's subject when it verified; undefined when it was refused. */
  subject?: string;
  /** The `caller` argument of a whoami tool call (who the test says is calling). */
  caller?: string;
  /** The verified token's `act` claim (RFC 8693: who acts for the subject), when it has one. */
  act?: unknown;
  /** The verified token's `aud` claim. */
  audience?: unknown;
}

/** A third-party MCP server protected by its own authorization server. */
export interface ProtectedUpstream {
  url: string;
  seen: SeenRequest[];
  /**
   * Refuses (401 invalid_token) every token of `subject` it has seen so far, as an upstream does
   * once the tokens were revoked at its authorization server; tokens issued later verify again.
   */
  revoke(subject: string): void;
  stop(): Promise<void>;
}

/**
 * A real MCP server (the official SDK's McpServer over Streamable HTTP, stateless) that is an
 * OAuth resource server of `issuer`: protected resource metadata (RFC 9728) naming the issuer,
 * 401 with `resource_metadata` without a valid token, JWT access tokens checked by signature,
 * issuer and audience (its own URL). Its tool `whoami` answers the token's subject. It records
 * every request's bearer token, as a third-party server's access log would.
 */
export async function startProtectedUpstream(issuer: string): Promise<ProtectedUpstream> {
  const seen: SeenRequest[] = [];
  const revoked = new Set<string>();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${origin}/mcp`;
  const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));

  server.on("request", (req, res) => {
    void (async () => {
      if (req.url === "/.well-known/oauth-protected-resource/mcp") {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            resource: url,
            authorization_servers: [issuer],
            scopes_supported: ["mcp"],
            bearer_methods_supported: ["header"],
          }),
        );
        return;
      }
      if (req.url !== "/mcp") {
        res.statusCode = 404;
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      const body = text === "" ? undefined : JSON.parse(text);
      const authorization = req.headers.authorization ?? "";
      const record: SeenRequest = { authorization };
      seen.push(record);
      const token = /^Bearer (.+)$/.exec(authorization)?.[1];
      try {
        if (!token) throw new Error("no token");
        if (revoked.has(authorization)) throw new Error("revoked");
        const { payload } = await jwtVerify(token, jwks, { issuer, audience: url });
        record.subject = payload.sub;
        record.audience = payload.aud;
        if (payload.act !== undefined) record.act = payload.act;
      } catch {
        res.statusCode = 401;
        res.setHeader(
          "www-authenticate",
          `Bearer resource_metadata="${metadataUrl}", scope="mcp"${token ? ', error="invalid_token"' : ""}`,
        );
        res.end();
        return;
      }
      const call = body as { method?: string; params?: { arguments?: { caller?: string } } };
      if (call?.method === "tools/call") record.caller = call.params?.arguments?.caller;
      const mcp = new McpServer({ name: "protected-upstream", version: "1.0.0" });
      const subject = record.subject;
      mcp.registerTool(
        "whoami",
        { description: "The subject of the caller's token", inputSchema: { caller: z.string() } },
        async () => ({ content: [{ type: "text", text: subject ?? "" }] }),
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.statusCode = 500;
      res.end(String(error));
    });
  });
  return {
    url,
    seen,
    revoke(subject) {
      for (const s of seen) if (s.subject === subject) revoked.add(s.authorization);
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
