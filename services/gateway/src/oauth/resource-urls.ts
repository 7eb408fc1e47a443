/** The well-known path of protected resource metadata (RFC 9728 §3). */
export const RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/** The MCP endpoints' path prefixes: each endpoint is a protected resource of its own. */
const MCP_PREFIXES = ["/mcp/v/", "/mcp/"];

/** Names of the gateway's protected resources, from its public base URL. */
export interface ResourceUrls {
  /** The public base URL, without a trailing slash (the gateway-wide resource: REST, RPC). */
  readonly base: string;
  /**
   * The resource a request path belongs to: the MCP endpoint's own URL for `/mcp/{instance}` and
   * `/mcp/v/{name}` (RFC 8707 resource indicator), the base for everything else.
   */
  resourceOf(path: string | undefined): string;
  /** Where the metadata of that resource is served (the well-known path, suffixed by the resource's path). */
  metadataUrlOf(path: string | undefined): string;
  /** Whether `value` names a resource of this gateway (an aud claim, a requested resource). */
  isOurs(value: string): boolean;
}

/** The path of an MCP endpoint inside `path` (a request path), or undefined when it is none. */
export function mcpEndpointPath(path: string): string | undefined {
  for (const prefix of MCP_PREFIXES) {
    if (!path.startsWith(prefix)) continue;
    const name = path.slice(prefix.length);
    if (name === "" || name.includes("/") || name.includes("?") || name.includes("#")) return;
    return path;
  }
  return undefined;
}

/** Drops a trailing slash and the default port; the form resources are compared in. */
export function canonicalResource(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.hash || url.search) return undefined;
  const href = url.href;
  return href.endsWith("/") ? href.slice(0, -1) : href;
}

/** ResourceUrls for a gateway reachable at `publicUrl`. */
export function createResourceUrls(publicUrl: string): ResourceUrls {
  const base = canonicalResource(publicUrl);
  if (!base)
    throw new Error(`BERTH_PUBLIC_URL: ${JSON.stringify(publicUrl)} is not an http(s) URL`);
  const basePath = new URL(base).pathname.replace(/\/$/, "");
  const origin = new URL(base).origin;
  const endpointOf = (path: string | undefined) =>
    path === undefined ? undefined : mcpEndpointPath(path);
  return {
    base,
    resourceOf(path) {
      const endpoint = endpointOf(path);
      return endpoint ? `${base}${endpoint}` : base;
    },
    metadataUrlOf(path) {
      const endpoint = endpointOf(path) ?? "";
      return `${origin}${RESOURCE_METADATA_PATH}${basePath}${endpoint}`;
    },
    isOurs(value) {
      const canonical = canonicalResource(value);
      if (!canonical) return false;
      if (canonical === base) return true;
      if (!canonical.startsWith(`${base}/`)) return false;
      return mcpEndpointPath(canonical.slice(base.length)) !== undefined;
    },
  };
}
