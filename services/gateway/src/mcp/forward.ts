import * as http from "node:http";
import * as https from "node:https";
import { Transform, type TransformCallback } from "node:stream";
import { CORRELATION_HEADER, currentCorrelationId, injectTraceHeaders } from "@berth/platform";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { type McpEndpoint, McpProxyError } from "./types.js";

// Only what MCP Streamable HTTP needs goes upstream: never the caller's credential or cookies.
const REQUEST_HEADERS = [
  "accept",
  "content-type",
  "content-length",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
  "user-agent",
];
// Hop-by-hop headers, upstream cookies, and CORS (the gateway's own CORS settings decide).
const DROPPED_RESPONSE =
  /^(connection|keep-alive|transfer-encoding|upgrade|te|trailer|proxy-.*|set-cookie|access-control-.*)$/i;
const CONNECT_TIMEOUT_MS = 5_000;

const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

/** What the proxy learns from one forwarded exchange. */
export interface ForwardEvents {
  /** The upstream answered with these status and session id (headers are being sent on). */
  onResponse(status: number, sessionId: string | undefined): void;
  /** The upstream could not be reached or broke off before answering. */
  onFailure(error: McpProxyError): void;
}

/**
 * Streams a request to the endpoint and the answer back, both ways without buffering (a slow
 * reader slows the other side). The caller's going away cancels the upstream request.
 */
export function forward(
  req: HttpRequest,
  res: HttpResponse,
  endpoint: McpEndpoint,
  maxBodyBytes: number,
  events: ForwardEvents,
): void {
  const target = new URL(endpoint.url);
  const headers: Record<string, string> = {};
  for (const name of REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  Object.assign(headers, injectTraceHeaders(), endpoint.headers);
  const correlationId = currentCorrelationId();
  if (correlationId) headers[CORRELATION_HEADER] = correlationId;
  const client = target.protocol === "https:" ? https : http;
  const agent = target.protocol === "https:" ? agents["https:"] : agents["http:"];
  const upstream = client.request(target, { method: req.method, headers, agent });
  let answered = false;
  const fail = (error: McpProxyError) => {
    upstream.destroy();
    // Once the answer is under way there is no status left to send: cut it short instead.
    if (answered) return void res.destroy();
    answered = true;
    events.onFailure(error);
  };
  upstream.on("socket", (socket) => {
    if (!socket.connecting) return;
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => fail(unreachable()));
    socket.once("connect", () => socket.setTimeout(0));
  });
  upstream.on("error", () => fail(unreachable()));
  upstream.on("response", (answer) => {
    answered = true;
    res.statusCode = answer.statusCode ?? 502;
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !DROPPED_RESPONSE.test(name)) res.setHeader(name, value);
    }
    const sessionId = answer.headers["mcp-session-id"];
    events.onResponse(res.statusCode, typeof sessionId === "string" ? sessionId : undefined);
    // An event stream's headers must reach the client before its first event.
    (res as { flushHeaders?: () => void }).flushHeaders?.();
    answer.pipe(res as NodeJS.WritableStream);
    answer.on("error", () => res.destroy());
  });
  res.once("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(limitBytes(maxBodyBytes, () => fail(tooLarge(maxBodyBytes)))).pipe(upstream);
}

function limitBytes(limit: number, onExceeded: () => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      total += chunk.length;
      if (total > limit) {
        onExceeded();
        return done();
      }
      done(null, chunk);
    },
  });
}

function unreachable(): McpProxyError {
  return new McpProxyError(502, "the instance's MCP endpoint did not answer");
}

function tooLarge(limit: number): McpProxyError {
  return new McpProxyError(413, `request body exceeds ${limit} bytes`, { connection: "close" });
}
