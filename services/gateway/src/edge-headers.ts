import { Code, ConnectError, RETRY_AFTER_SECONDS, toConnectError } from "@berth/platform";
import type { Interceptor } from "@connectrpc/connect";

/** The challenge of a 401: how to authenticate (RFC 9110 §11.6.1). */
export const WWW_AUTHENTICATE = 'Bearer realm="berth"';

/**
 * The response headers an error carries for the caller, on every protocol: when to retry (429,
 * 503) and how to authenticate (401). The one place they are decided; REST, MCP and the Connect
 * interceptor below all read them from here.
 */
export function edgeHeaders(error: ConnectError): Record<string, string> {
  const headers: Record<string, string> = {};
  const retryAfter =
    error.metadata.get("retry-after") ??
    (error.code === Code.Unavailable ? String(RETRY_AFTER_SECONDS) : null);
  if (retryAfter) headers["retry-after"] = retryAfter;
  // An OAuth challenge made for the request (resource metadata, insufficient scope) wins.
  const challenge = error.metadata.get("www-authenticate");
  if (challenge) headers["www-authenticate"] = challenge;
  else if (error.code === Code.Unauthenticated) headers["www-authenticate"] = WWW_AUTHENTICATE;
  return headers;
}

/** Any failure as the ConnectError callers see, its edge headers in its metadata. */
export function toEdgeError(error: unknown): ConnectError {
  const err = toConnectError(error);
  const headers = edgeHeaders(err);
  const missing = Object.entries(headers).filter(([name]) => !err.metadata.has(name));
  if (missing.length === 0) return err;
  const metadata = new Headers(err.metadata);
  for (const [name, value] of missing) metadata.set(name, value);
  const details = err.details as ConstructorParameters<typeof ConnectError>[3];
  return new ConnectError(err.rawMessage, err.code, metadata, details, err.cause);
}

/**
 * The outermost interceptor of every RPC (Connect, gRPC-Web, gRPC, REST): errors leave with their
 * edge headers (connect writes an error's metadata as response headers or trailers), and
 * failures that are not ConnectErrors are mapped once (a database outage is 503, a bug 500).
 */
export const edgeErrors: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    throw toEdgeError(error);
  }
};
