import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction, NetConnectOpts } from "node:net";
import {
  CORRELATION_HEADER,
  currentCorrelationId,
  dialGuarded,
  injectTraceHeaders,
  type Logger,
  splitBridgeChannel,
  splitGuard,
} from "@berth/platform";
import { context, trace } from "@opentelemetry/api";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { type BridgeChannels, type ChannelTarget, createBridgeChannels } from "./bridge-channel.js";
import { toProxyError } from "./json-rpc-error.js";
import { type McpEndpoint, McpProxyError } from "./types.js";
import { type ForwardPhase, upstreamRetryDelayMs } from "./upstream-retry.js";

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

export type { ForwardPhase } from "./upstream-retry.js";

/** An endpoint URL, parsed once. */
interface Target {
  parsed: URL;
  https: boolean;
  hostname: string;
  port: string;
  path: string;
}

/** What every call to one endpoint shares, worked out on its first call. */
interface Prepared {
  target: Target;
  /** The endpoint's own headers (its credential), without the guard and the channel mark. */
  headers: Record<string, string>;
  /** An HTTP container's port-guard credential. */
  guard?: string;
  /** The runtime's stdio bridge, reached over the bridge channel. */
  channel?: ChannelTarget;
}

/** Why an upstream exchange failed, for the log line of a 502: never a body or a header value. */
export interface UpstreamFailureCause {
  code: string;
  phase: ForwardPhase;
  /** Whether the socket had carried an earlier exchange (kept alive). */
  reused: boolean;
  /** 1, or more when earlier attempts failed before the upstream read them (upstream-retry.ts). */
  attempts: number;
}

/** What the proxy learns from one forwarded exchange. */
export interface ForwardEvents {
  /** The upstream answered with these status and session id (headers are being sent on). */
  onResponse(status: number, sessionId: string | undefined): void;
  /** The upstream could not be reached or broke off before answering. */
  onFailure(error: McpProxyError, cause?: UpstreamFailureCause): void;
  /**
   * The upstream answered 401 (delegated credentials: the caller's token was refused). When
   * given, that answer is not passed on: the request is sent once more to the endpoint this
   * resolves to (a renewed token), or answered with the error it rejects with.
   */
  onUnauthorized?(): Promise<McpEndpoint>;
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
   * Whether a runtime's stdio bridge is reached over its channel (default) or with an HTTP
   * request per exchange, as any other endpoint.
   */
  bridgeChannel?: boolean;
  /** The channels to the runtimes' bridges (default: createBridgeChannels()). */
  channels?: BridgeChannels;
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
 * sent again on a fresh socket, as is one whose connection could not be made (upstream-retry.ts).
 * Nothing waits on a whole body: the request streams upstream as it arrives (its chunks, one
 * JSON-RPC message bounded by maxBodyBytes, are kept until the answer starts, for those retries)
 * and the answer streams back. Per call there is no URL parsing, no span and no trace header
 * unless a trace is under way.
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const { logger, maxBodyBytes } = options;
  const maxPools = options.maxPools ?? 1_000;
  const pools = new Map<string, http.Agent>();
  const channels = options.channels ?? createBridgeChannels();
  const useChannels = options.bridgeChannel ?? true;

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

  // Parsed once per endpoint URL, not per call.
  const targets = new Map<string, Target>();
  const targetOf = (url: string): Target => {
    let target = targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      const https = parsed.protocol === "https:";
      target = {
        parsed,
        https,
        hostname: parsed.hostname.replace(/^\[|\]$/g, ""),
        port: parsed.port || (https ? "443" : "80"),
        path: `${parsed.pathname}${parsed.search}`,
      };
      if (targets.size >= maxPools) targets.clear();
      targets.set(url, target);
    }
    return target;
  };

  // Endpoints are resolved objects the resolver caches per instance: what they imply (the parsed
  // URL, their headers, whether they are a bridge) is worked out once for each.
  const prepared = new WeakMap<McpEndpoint, Prepared>();
  const prepare = (endpoint: McpEndpoint): Prepared => {
    let found = prepared.get(endpoint);
    if (!found) {
      const target = targetOf(endpoint.url);
      const { headers: withoutGuard, guard } = splitGuard({ ...endpoint.headers });
      const { headers, channel } = splitBridgeChannel(withoutGuard);
      found = { target, headers, ...(guard !== undefined ? { guard } : {}) };
      const authorization = headers.authorization;
      // The channel carries plain (loopback) traffic authenticated by the bridge's token.
      if (channel && useChannels && !target.https && authorization !== undefined) {
        const { authorization: _, ...rest } = headers;
        found.headers = rest;
        found.channel = { hostname: target.hostname, port: target.port, authorization };
      }
      prepared.set(endpoint, found);
    }
    return found;
  };

  return {
    forward(req, res, endpoint, events) {
      const setup = prepare(endpoint);
      let headers = upstreamHeaders(req, setup.headers);
      if (setup.channel) {
        return forwardOverChannel(
          req,
          res,
          endpoint,
          setup.channel,
          setup.target.path,
          headers,
          events,
        );
      }
      const { target, guard } = setup;
      const agent = agentFor(endpoint, target.parsed, guard);
      const client = target.https ? https : http;
      const hasBody = !(req.method === "GET" || req.method === "DELETE" || req.method === "HEAD");
      const length = req.headers["content-length"];
      if (hasBody && typeof length === "string") headers["content-length"] = length;

      let answered = false;
      let reauthorized = false;
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

      // The body streams upstream as it arrives; its chunks (one JSON-RPC message, bounded by
      // maxBodyBytes) are kept until the answer starts, to send it again after a reused socket
      // was closed under it.
      const chunks: Buffer[] = [];
      let received = 0;
      let ended = !hasBody;

      const send = (attempt: number) => {
        const upstream = client.request({
          protocol: target.parsed.protocol,
          hostname: target.hostname,
          port: target.port,
          path: target.path,
          method: req.method,
          headers,
          agent,
        });
        current = upstream;
        let phase: ForwardPhase = "request";
        upstream.on("socket", (socket) => {
          if (!socket.connecting) return;
          phase = "connect";
          socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
            const cause = { code: "ETIMEDOUT", phase, reused: false, attempts: attempt };
            fail(unreachable(endpoint), cause);
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
          const cause = { code, phase, reused, attempts: attempt };
          // Only what the upstream cannot have processed: see upstreamRetryDelayMs.
          const retryIn = upstreamRetryDelayMs(cause);
          if (retryIn === undefined) return fail(unreachable(endpoint), cause);
          logger.debug(
            { instance_id: endpoint.instanceId, ...cause, retryIn },
            "MCP upstream retry",
          );
          if (retryIn === 0) return send(attempt + 1);
          setTimeout(() => {
            if (!answered && !res.destroyed) send(attempt + 1);
          }, retryIn);
        });
        upstream.on("response", (answer) => {
          if (answer.statusCode === 401 && events.onUnauthorized && !reauthorized) {
            // Kept from the client (the upstream's challenge names its own authorization
            // server): asked once more with a renewed token, or answered by the hook's error.
            reauthorized = true;
            answer.resume();
            current = undefined;
            events.onUnauthorized().then(
              (renewed) => {
                if (answered || res.destroyed) return;
                headers = upstreamHeaders(req, prepare(renewed).headers);
                if (hasBody && typeof length === "string") headers["content-length"] = length;
                send(attempt + 1);
              },
              (error: unknown) => {
                if (answered) return;
                answered = true;
                events.onFailure(toProxyError(error));
              },
            );
            return;
          }
          answered = true;
          chunks.length = 0;
          phase = "response";
          res.statusCode = answer.statusCode ?? 502;
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value !== undefined && !DROPPED_RESPONSE.test(name)) res.setHeader(name, value);
          }
          const sessionId = answer.headers["mcp-session-id"];
          events.onResponse(res.statusCode, typeof sessionId === "string" ? sessionId : undefined);
          // An event stream's headers must reach the client before its first event; any other
          // answer goes out with its body in one write.
          if (answer.headers["content-type"]?.startsWith("text/event-stream")) {
            (res as { flushHeaders?: () => void }).flushHeaders?.();
          }
          answer.pipe(res as NodeJS.WritableStream);
          answer.on("error", () => res.destroy());
        });
        for (const chunk of chunks) upstream.write(chunk);
        if (ended) upstream.end();
      };

      if (!hasBody) {
        req.resume();
        return send(1);
      }
      req.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBodyBytes) {
          req.removeAllListeners("data");
          req.pause();
          return fail(tooLarge(maxBodyBytes));
        }
        if (!answered) chunks.push(chunk);
        current?.write(chunk);
      });
      req.once("end", () => {
        ended = true;
        current?.end();
      });
      req.once("error", () => fail(new McpProxyError(400, "the request body was cut short")));
      send(1);
    },

    async close() {
      for (const agent of pools.values()) agent.destroy();
      pools.clear();
      channels.close();
    },
  };

  /**
   * One exchange with a runtime's stdio bridge over its channel (bridge-channel.ts): the body (one
   * JSON-RPC message or batch, bounded by maxBodyBytes) goes in one frame once it has arrived, and
   * the answer streams back frame by frame. Failures and retries follow the HTTP path's rules.
   */
  function forwardOverChannel(
    req: HttpRequest,
    res: HttpResponse,
    endpoint: McpEndpoint,
    channel: ChannelTarget,
    path: string,
    headers: Record<string, string>,
    events: ForwardEvents,
  ): void {
    const hasBody = !(req.method === "GET" || req.method === "DELETE" || req.method === "HEAD");
    let answered = false;
    let finished = false;
    let exchange: { cancel(): void } | undefined;
    const fail = (error: McpProxyError, cause?: UpstreamFailureCause) => {
      exchange?.cancel();
      if (answered) return void res.destroy();
      answered = true;
      events.onFailure(error, cause);
    };
    res.once("close", () => {
      if (!finished) exchange?.cancel();
    });

    // A JSON answer (one message, already whole at the bridge) goes out in one write with its
    // length; an event stream's events go out as they come.
    let held: Buffer[] | undefined;
    const send = (body: Buffer, attempt: number) => {
      const request = { method: req.method ?? "GET", path, headers, body };
      exchange = channels.exchange(channel, request, {
        head(head) {
          answered = true;
          res.statusCode = head.status;
          for (const name in head.headers) {
            if (!DROPPED_RESPONSE.test(name)) res.setHeader(name, head.headers[name]!);
          }
          const sessionId = head.headers["mcp-session-id"];
          events.onResponse(head.status, sessionId);
          if (head.headers["content-type"]?.startsWith("text/event-stream")) {
            (res as { flushHeaders?: () => void }).flushHeaders?.();
          } else held = [];
        },
        data(chunk) {
          if (held) held.push(chunk);
          else (res as NodeJS.WritableStream).write(chunk);
        },
        end() {
          finished = true;
          if (!held) return void res.end();
          const whole = held.length === 1 ? held[0]! : Buffer.concat(held);
          res.setHeader("content-length", whole.length);
          res.end(whole);
        },
        failed(code, phase) {
          if (answered) {
            finished = true;
            return void res.destroy();
          }
          // A reused socket's early close does not apply: a channel is never "reused" in that
          // sense. Only what never reached the bridge (it could not be opened) is sent again.
          const cause = { code, phase, reused: false, attempts: attempt };
          const retryIn = upstreamRetryDelayMs(cause);
          if (retryIn === undefined) return fail(unreachable(endpoint), cause);
          logger.debug(
            { instance_id: endpoint.instanceId, ...cause, retryIn },
            "MCP upstream retry",
          );
          setTimeout(() => {
            if (!answered && !res.destroyed) send(body, attempt + 1);
          }, retryIn);
        },
      });
    };

    if (!hasBody) {
      req.resume();
      send(EMPTY, 1);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBodyBytes) {
        req.removeAllListeners("data");
        req.pause();
        return fail(tooLarge(maxBodyBytes));
      }
      chunks.push(chunk);
    });
    req.once("end", () => {
      if (answered) return;
      send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), 1);
    });
    req.once("error", () => fail(new McpProxyError(400, "the request body was cut short")));
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The headers sent upstream with one request: what MCP Streamable HTTP needs of the caller's
 * (never its credential or cookies), the trace context when a trace is under way, the correlation
 * id, then the endpoint's own headers (its credential), which win.
 */
function upstreamHeaders(
  req: HttpRequest,
  endpointHeaders: Readonly<Record<string, string>>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  if (trace.getSpanContext(context.active())) Object.assign(headers, injectTraceHeaders());
  const correlationId = currentCorrelationId();
  if (correlationId) headers[CORRELATION_HEADER] = correlationId;
  return Object.assign(headers, endpointHeaders);
}

/**
 * A remote (url) upstream that does not answer is a bad gateway: the fault is beyond Berth. A
 * container's endpoint is Berth's own (the runtime's stdio bridge, or the port guard): when it
 * does not answer, the runtime is restarting or replacing it, so the client is told to retry.
 */
function unreachable(endpoint: McpEndpoint): McpProxyError {
  if (endpoint.driver === "url") {
    return new McpProxyError(502, "the instance's MCP endpoint did not answer");
  }
  return new McpProxyError(503, "the instance's workload is not reachable now; retry shortly", {
    "retry-after": "1",
  });
}

function tooLarge(limit: number): McpProxyError {
  return new McpProxyError(413, `request body exceeds ${limit} bytes`, { connection: "close" });
}
