import { CORRELATION_HEADER } from "@berth/platform";
import { cors } from "@connectrpc/connect";
import type { HttpRequest, HttpResponse } from "./http/types.js";

const ALLOW_METHODS = ["GET", "POST", "PATCH", "DELETE"].join(", ");
const ALLOW_HEADERS = [
  ...cors.allowedHeaders,
  "authorization",
  "x-api-key",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
  CORRELATION_HEADER,
].join(", ");
const EXPOSE_HEADERS = [
  ...cors.exposedHeaders,
  "mcp-session-id",
  "mcp-protocol-version",
  "retry-after",
  "www-authenticate",
  CORRELATION_HEADER,
].join(", ");

/** Parses CORS_ORIGINS: a comma-separated list of origins, or `*` for any. */
export function parseOrigins(value: string): readonly string[] {
  return value
    .split(",")
    .map((origin) => origin.trim().replace(/\/+$/, ""))
    .filter((origin) => origin !== "");
}

/**
 * CORS for browsers on the allowed origins (none by default): answers preflights (204, or 403
 * for an origin not allowed) and marks other responses readable by the origin. Returns true
 * when it answered the request itself.
 */
export function createCors(
  origins: readonly string[],
): (req: HttpRequest, res: HttpResponse) => boolean {
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    const preflight =
      req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (typeof origin !== "string") return false;
    res.setHeader("vary", "origin");
    const ok = any || allowed.has(origin);
    if (preflight) {
      req.resume();
      if (!ok) {
        res.statusCode = 403;
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            error: { code: 403, status: "PERMISSION_DENIED", message: "origin not allowed" },
          }),
        );
        return true;
      }
      res.statusCode = 204;
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-allow-methods", ALLOW_METHODS);
      res.setHeader("access-control-allow-headers", ALLOW_HEADERS);
      res.setHeader("access-control-max-age", "7200");
      res.end();
      return true;
    }
    if (ok) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
    }
    return false;
  };
}
