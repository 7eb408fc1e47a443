import { Code, httpStatusOf, toConnectError } from "@berth/platform";
import { edgeHeaders } from "../edge-headers.js";
import type { HttpResponse } from "../http/types.js";
import { McpProxyError } from "./types.js";

/** JSON-RPC code of every failure the gateway answers itself (the server error range). */
export const GATEWAY_ERROR_CODE = -32001;

/** The proxy's own failure for any error: gatekeeper errors keep their HTTP status and headers. */
export function toProxyError(error: unknown): McpProxyError {
  if (error instanceof McpProxyError) return error;
  // A database outage under the gatekeeper is 503 like any other; only bugs are 500.
  const err = toConnectError(error);
  if (err.code === Code.Internal) return new McpProxyError(500, "internal error");
  return new McpProxyError(httpStatusOf(err.code), err.rawMessage, edgeHeaders(err));
}

/** Answers with a JSON-RPC error body (id null: the request was not read) and the HTTP status. */
export function writeJsonRpcError(res: HttpResponse, error: McpProxyError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.setHeader("content-type", "application/json");
  const body = {
    jsonrpc: "2.0",
    error: { code: GATEWAY_ERROR_CODE, message: error.message },
    id: null,
  };
  res.end(JSON.stringify(body));
}
