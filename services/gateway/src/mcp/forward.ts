import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction, NetConnectOpts } from "node:net";
import {
  CORRELATION_HEADER,
  currentCorrelationId,
  dialGuarded,
  injectTraceHeaders,
  type Logger,
  splitGuard,
} from "@berth/platform";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { type McpEndpoint, McpProxyError } from "./types.js";

// Only what MCP Streamable HTTP needs goes upstream: never the caller's credential or cookies.
const REQUEST_HEADERS = [
  "accept",
  "content-type",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
  "user-agent",
];
// Hop-by-hop headers, upstream cookies, and CORS (the gateway's own CORS settings decide).
const DROPPED_RESPONSE =
  /^(connection|keep-alive|transfer-encoding|upgrade|te|trailer|proxy-.*|set-cookie|access-control-.*)$/i;
const CONNECT_TIMEOUT_MS = 5_000;
// Idle sockets are closed after this long unless the upstream announces a shorter
// `Keep-Alive: timeout=` (Node's agent then closes 1 s before it). Below the 5 s that Node and
// Express servers use without saying so.
const IDLE_MS = 4_000;
// The errors of a socket the upstream closed under a request it never read.
const CLOSED_UNDER_US = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** Where an exchange failed: dialling, sending and awaiting the answer, or relaying it. */
export type ForwardPhase = "connect" | "request" | "response";

/** Why an upstream exchange failed, for the log line of a 502: never a body or a header value. */
export interface UpstreamFailureCause {
  code: string;
  phase: ForwardPhase;
  /** Whether the socket had carried an earlier exchange (kept alive). */
  reused: boolean;
  /** 1, or 2 when the first attempt failed on a reused socket and was retried. */
  attempts: number;
}

/** What the proxy learns from one forwarded exchange. */
export interface ForwardEvents {
  /** The upstream answered with these status and session id (headers are being sent on). */
  onResponse(status: number, sessionId: string | undefined): void;
  /** The upstream could not be reached or broke off before answering. */
  onFailure(error: McpProxyError, cause?: UpstreamFailureCause): void;
}

/** Options of createForwarder. */
export interface ForwarderOptions {
  logger: Logger;
  maxBodyBytes: number;
  /** Most instances with a connection pool at once; the least recently used is closed beyond. */
  maxPools?: number;
  /** Most sockets to one instance. */
  maxSocketsPerInstance?: number;
  /**
   * Resolves host names of endpoints (createGuardedLookup: refuses forbidden addresses at dial
   * time). Address literals (the runtime's own loopback endpoints) are dialled without it.
   */
  lookup?: LookupFunction;
}

/** Forwards MCP exchanges over one keep-alive connection pool per instance. */
export interface Forwarder {
  forward(req: HttpRequest, res: HttpResponse, endpoint: McpEndpoint, events: ForwardEvents): void;
  /** Closes every pool's sockets. */
  close(): Promise<void>;
}

/**
 * Streams MCP exchanges to instance endpoints. Each instance has its own pool (no request of one
 * instance ever shares a socket with another's), idle sockets close before the upstream's own
 * keep-alive timeout, and a request that failed on a reused socket before the upstream read it is
 * sent again once on a fresh socket: the request body (one JSON-RPC message, bounded by
 * maxBodyBytes) is held for that; the answer streams through unbuffered.
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const { logger, maxBodyBytes } = options;
  const maxPools = options.maxPools ?? 1_000;
  const pools = new Map<string, http.Agent>();

  const agentFor = (endpoint: McpEndpoint, target: URL, guard?: string): http.Agent => {
    const key = `${endpoint.instanceId} ${target.origin} ${guard ?? ""}`;
    let agent = pools.get(key);
    if (agent) {
      pools.delete(key); // Re-inserted below: the Map's order is least recently used first.
    } else {
      const Agent = target.protocol === "https:" ? https.Agent : http.Agent;
      agent = new Agent({
        keepAlive: true,
        // The `timeout` is what lets Node's agent apply the upstream's Keep-Alive hint.
        timeout: IDLE_MS,
        maxSockets: options.maxSocketsPerInstance ?? 256,
        maxFreeSockets: 32,
        scheduling: "lifo",
        ...(options.lookup ? { lookup: options.lookup } : {}),
      });
      // An HTTP container's port guard: each connection opens with the instance's credential
      // (never an HTTP header, so it cannot reach the MCP server).
      if (guard !== undefined) {
        agent.createConnection = (opts: NetConnectOpts) => dialGuarded(guard, opts);
      }
      if (pools.size >= maxPools) {
        const oldest = pools.keys().next().value!;
        pools.get(oldest)?.destroy();
        pools.delete(oldest);
      }
    }
    pools.set(key, agent);
    return agent;
  };

  return {
    forward(req, res, endpoint, events) {
      const target = new URL(endpoint.url);
      const headers: Record<string, string> = {};
      for (const name of REQUEST_HEADERS) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const { headers: endpointHeaders, guard } = splitGuard(endpoint.headers);
      Object.assign(headers, injectTraceHeaders(), endpointHeaders);
      const correlationId = currentCorrelationId();
      if (correlationId) headers[CORRELATION_HEADER] = correlationId;
      const agent = agentFor(endpoint, target, guard);
      const client = target.protocol === "https:" ? https : http;

      let answered = false;
      let current: http.ClientRequest | undefined;
      const fail = (error: McpProxyError, cause?: UpstreamFailureCause) => {
        current?.destroy();
        // Once the answer is under way there is no status left to send: cut it short instead.
        if (answered) return void res.destroy();
        answered = true;
        events.onFailure(error, cause);
      };
      res.once("close", () => {
        if (!res.writableFinished) current?.destroy();
      });

      const send = (body: Buffer | undefined, attempt: number) => {
        const requestHeaders =
          body === undefined ? headers : { ...headers, "content-length": String(body.length) };
        const upstream = client.request(target, {
          method: req.method,
          headers: requestHeaders,
          agent,
        });
        current = upstream;
        let phase: ForwardPhase = "request";
        upstream.on("socket", (socket) => {
          if (!socket.connecting) return;
          phase = "connect";
          socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
            const cause = { code: "ETIMEDOUT", phase, reused: false, attempts: attempt };
            fail(unreachable(), cause);
          });
          socket.once("connect", () => {
            phase = "request";
            socket.setTimeout(0);
          });
        });
        upstream.on("error", (error: NodeJS.ErrnoException) => {
          if (answered || upstream !== current) return;
          const code = error.code ?? "UNKNOWN";
          const reused = upstream.reusedSocket;
          // The upstream closed a kept-alive socket as our request arrived: it never read it.
          if (reused && phase === "request" && attempt === 1 && CLOSED_UNDER_US.has(code)) {
            logger.debug({ instance_id: endpoint.instanceId, code }, "MCP upstream retry");
            return send(body, attempt + 1);
          }
          fail(unreachable(), { code, phase, reused, attempts: attempt });
        });
        upstream.on("response", (answer) => {
          answered = true;
          phase = "response";
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
        upstream.end(body);
      };

      if (req.method === "GET" || req.method === "DELETE" || req.method === "HEAD") {
        req.resume();
        return send(undefined, 1);
      }
      readBody(req, maxBodyBytes).then(
        (body) => {
          if (!answered && !res.destroyed) send(body, 1);
        },
        (error: McpProxyError) => fail(error),
      );
    },

    async close() {
      for (const agent of pools.values()) agent.destroy();
      pools.clear();
    },
  };
}

/** The request body, at most `limit` bytes (413 beyond, found without reading the rest). */
function readBody(req: HttpRequest, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        req.off("data", onData);
        req.pause();
        return reject(tooLarge(limit));
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", () => reject(new McpProxyError(400, "the request body was cut short")));
  });
}

function unreachable(): McpProxyError {
  return new McpProxyError(502, "the instance's MCP endpoint did not answer");
}

function tooLarge(limit: number): McpProxyError {
  return new McpProxyError(413, `request body exceeds ${limit} bytes`, { connection: "close" });
}
