import type { HttpRequest, HttpResponse } from "../http/types.js";
import { mcpEndpointPath, RESOURCE_METADATA_PATH, type ResourceUrls } from "./resource-urls.js";

/** Options of createProtectedResourceRoutes. */
export interface ProtectedResourceOptions {
  /** The resource names; a getter because the base URL is known only once the port is bound. */
  urls: () => ResourceUrls;
  /** Issuer URLs clients may get tokens from, the preferred one first. */
  authorizationServers: () => readonly string[];
}

/** Scopes an MCP endpoint's tokens carry; the gateway-wide resource takes every key scope. */
export const MCP_SCOPES = ["mcp"] as const;
const GATEWAY_SCOPES = ["admin", "write", "read", "mcp", "metrics"] as const;

/**
 * GET /.well-known/oauth-protected-resource[/mcp/{instance} | /mcp/v/{name}]: the protected
 * resource metadata (RFC 9728) of the gateway and of each MCP endpoint, path-suffixed as the MCP
 * authorization specification asks. The answer is the same whether the instance exists or not:
 * metadata must not tell strangers which instances there are.
 */
export function createProtectedResourceRoutes(options: ProtectedResourceOptions) {
  return (req: HttpRequest, res: HttpResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const urls = options.urls();
    const basePath = new URL(urls.base).pathname.replace(/\/$/, "");
    let suffix = path.slice(RESOURCE_METADATA_PATH.length);
    if (basePath && suffix.startsWith(basePath)) suffix = suffix.slice(basePath.length);
    const endpoint = suffix === "" ? undefined : mcpEndpointPath(suffix);
    if (suffix !== "" && !endpoint) {
      res.statusCode = 404;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          error: {
            code: 404,
            status: "NOT_FOUND",
            message: `no protected resource here: use ${RESOURCE_METADATA_PATH}/mcp/{instance} or ${RESOURCE_METADATA_PATH}/mcp/v/{name}`,
          },
        }),
      );
      return;
    }
    const body = {
      resource: urls.resourceOf(endpoint),
      authorization_servers: options.authorizationServers(),
      scopes_supported: endpoint ? MCP_SCOPES : GATEWAY_SCOPES,
      bearer_methods_supported: ["header"],
      resource_name: endpoint ? `Berth MCP endpoint ${endpoint}` : "Berth gateway",
      resource_documentation: "https://github.com/berth/berth#oauth",
    };
    res.statusCode = 200;
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "public, max-age=300");
    // Browser-based MCP clients (the Inspector) read metadata across origins.
    res.setHeader("access-control-allow-origin", "*");
    res.end(JSON.stringify(body));
  };
}
