import { McpProxyError } from "./types.js";

/** Options of createOriginGuard. */
export interface OriginGuardOptions {
  /** Origins browsers may call /mcp from, besides loopback ones (`scheme://host[:port]`). */
  allowedOrigins: readonly string[];
  /** Host names (without port) requests may be addressed to, besides loopback ones. */
  allowedHosts: readonly string[];
  /** Whether the gateway listens on loopback only: then the Host must name it (or be allowed). */
  loopbackOnly: boolean;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/**
 * DNS-rebinding protection for /mcp, as the MCP specification requires: a browser page on a name
 * that an attacker pointed at this machine sends that name as Host and its own Origin.
 * - Origin absent: allowed (non-browser clients send none). Present: it must be a loopback
 *   origin or on the allow-list.
 * - Host: when the gateway listens on loopback only, it must be a loopback name or an allowed
 *   host (a DNS-rebinding request carries the attacker's name).
 * Returns the 403 to answer, or undefined.
 */
export function createOriginGuard(
  options: OriginGuardOptions,
): (headers: Readonly<Record<string, string | string[] | undefined>>) => McpProxyError | undefined {
  const origins = new Set(options.allowedOrigins.map(normalizeOrigin));
  const hosts = new Set(options.allowedHosts.map((h) => h.toLowerCase()));
  return (headers) => {
    const origin = headers.origin;
    if (
      typeof origin === "string" &&
      !origins.has(normalizeOrigin(origin)) &&
      !isLoopbackOrigin(origin)
    ) {
      return new McpProxyError(
        403,
        `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`,
      );
    }
    if (!options.loopbackOnly) return undefined;
    const authority = headers[":authority"] ?? headers.host;
    const host = typeof authority === "string" ? hostnameOf(authority) : undefined;
    if (host === undefined || (!LOOPBACK_HOSTS.has(host) && !hosts.has(host))) {
      return new McpProxyError(403, "the Host header does not name this gateway");
    }
    return undefined;
  };
}

/** Whether a listen address is loopback only. */
export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || host.startsWith("127.");
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (
      (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOSTS.has(url.hostname)
    );
  } catch {
    return false;
  }
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, "").toLowerCase();
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]`, `[v6]:port`). */
function hostnameOf(authority: string): string | undefined {
  const value = authority.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end === -1 ? undefined : value.slice(0, end + 1);
  }
  return value.split(":")[0] || undefined;
}
