import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import {
  BRIDGE_CHANNEL_HEADER,
  BRIDGE_CHANNEL_PATH,
  BRIDGE_CHANNEL_PROTOCOL,
  type ChannelRequest,
  type Logger,
} from "@berth/platform";
import type { StdioChannel } from "../drivers/types.js";
import { type ServedChannel, serveChannel } from "./channel-server.js";
import { createHttpSession, type HttpSession } from "./http-session.js";
import type { RpcMessage } from "./json-rpc.js";
import { readLines, writeLine } from "./line-channel.js";
import type { ReplyStream } from "./reply-stream.js";
import { createStdioMux, type StdioMux } from "./stdio-mux.js";

/** Options of createBridgeServer. */
export interface BridgeServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Sessions idle this long are closed (default 10 minutes). */
  sessionIdleMs?: number;
  maxSessionsPerInstance?: number;
  maxBodyBytes?: number;
  /**
   * A secret that outlives the process (the runtime's service token): the bridge's bearer token
   * and the signatures of session ids derive from it, so a restarted runtime accepts the callers
   * and the sessions of the one before. A random one per process when absent.
   */
  secret?: string;
}

/** A stdio server served by the bridge. */
export interface BridgeAttachment {
  /** Resolves once the server answered the bridge's initialize. */
  ready: Promise<void>;
  detach(reason: string): void;
}

/** The stdio bridge: one loopback HTTP listener serving every stdio instance as Streamable HTTP. */
export interface BridgeServer {
  listen(): Promise<number>;
  /** The instance's MCP URL on this bridge. */
  url(instanceId: string): string;
  /**
   * Headers a caller must send (the bridge's bearer token), and the mark that the endpoint is
   * also reachable over the channel (BRIDGE_CHANNEL_HEADER, which HTTP callers send harmlessly).
   */
  headers(): Record<string, string>;
  attach(instanceId: string, channel: StdioChannel): BridgeAttachment;
  close(): Promise<void>;
}

interface Served {
  mux: StdioMux;
  sessions: Map<string, HttpSession>;
  /** Ids of sessions their clients ended (DELETE): never restored by their signature. */
  deleted: Set<string>;
}

// How many ended session ids an instance remembers (oldest forgotten first).
const MAX_DELETED = 10_000;

const PATH = /^\/instances\/([A-Za-z0-9_.-]{1,255})\/mcp$/;
const PROTOCOL_VERSIONS = new Set([
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
  "2024-10-07",
]);
// Longer than any caller's idle timeout (the gateway closes idle sockets after 4 s), so that a
// caller never sends on a socket the bridge is closing.
const KEEP_ALIVE_MS = 65_000;

/**
 * Whether an Accept header prefers application/json to text/event-stream: a higher q, or the same
 * q and listed first (the order clients write when they have a preference).
 */
export function prefersJson(accept: string): boolean {
  let json: { q: number; at: number } | undefined;
  let sse: { q: number; at: number } | undefined;
  accept.split(",").forEach((part, at) => {
    const [type, ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (type === "application/json") json ??= { q, at };
    else if (type === "text/event-stream") sse ??= { q, at };
  });
  if (!json) return false;
  if (!sse) return true;
  return json.q > sse.q || (json.q === sse.q && json.at < sse.at);
}

/**
 * One exchange as the bridge handles it, whether it came as an HTTP request or over the channel.
 * Header names are lower-case.
 */
interface BridgeCall {
  method: string;
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The whole body; rejects with a BridgeError 413 beyond `max` bytes. */
  body(max: number): Promise<Buffer>;
  /** The body will not be read. */
  discard(): void;
}

/** An error the bridge answers as a JSON-RPC error with this status. */
class BridgeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = -32000,
  ) {
    super(message);
  }
}

/**
 * Creates the bridge. Each client gets its own MCP Streamable HTTP session (http-session.ts) over
 * the instance's one shared server process (stdio-mux.ts); messages are relayed with only their
 * ids, methods and progress tokens looked at, never schema-validated. Callers present a bearer
 * token derived from the runtime's secret, handed out with the endpoint by ResolveEndpoint.
 */
export function createBridgeServer(options: BridgeServerOptions): BridgeServer {
  const log = options.logger.child({ component: "bridge" });
  const secret = options.secret ?? randomBytes(32).toString("hex");
  const derive = (purpose: string) => createHmac("sha256", secret).update(purpose).digest();
  const token = derive("berth-bridge-token").subarray(0, 24).toString("hex");
  const sessionKey = derive("berth-bridge-session");
  const expected = Buffer.from(`Bearer ${token}`);
  const served = new Map<string, Served>();
  const idleMs = options.sessionIdleMs ?? 600_000;
  const maxSessions = options.maxSessionsPerInstance ?? 500;
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  let port = 0;

  const reply = (res: ReplyStream, status: number, message: string, code = -32000) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
  };

  const authorized = (req: IncomingMessage) => {
    const given = req.headers.authorization;
    if (given?.length !== expected.length) return false;
    return timingSafeEqual(Buffer.from(given), expected);
  };

  /** The body's JSON-RPC messages (one or a batch). */
  async function readMessages(
    call: BridgeCall,
  ): Promise<{ messages: RpcMessage[]; batch: boolean }> {
    const raw = await call.body(maxBody);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString());
    } catch {
      throw new BridgeError(400, "Parse error: the body is not JSON", -32700);
    }
    const batch = Array.isArray(body);
    const messages = (batch ? body : [body]) as RpcMessage[];
    const valid =
      messages.length > 0 &&
      messages.every(
        (m) =>
          m !== null &&
          typeof m === "object" &&
          m.jsonrpc === "2.0" &&
          (m.method === undefined ? m.id !== undefined : typeof m.method === "string"),
      );
    if (!valid) throw new BridgeError(400, "Parse error: Invalid JSON-RPC message", -32700);
    return { messages, batch };
  }

  /** A session id the bridge can verify without memory: `<uuid>.<signature over instance and uuid>`. */
  const sign = (instanceId: string, nonce: string) =>
    createHmac("sha256", sessionKey)
      .update(`${instanceId}:${nonce}`)
      .digest("base64url")
      .slice(0, 32);
  const newSessionId = (instanceId: string) => {
    const nonce = randomUUID();
    return `${nonce}.${sign(instanceId, nonce)}`;
  };
  const signedBy = (instanceId: string, sessionId: string) => {
    const [nonce, signature, extra] = sessionId.split(".");
    if (!nonce || !signature || extra !== undefined) return false;
    const expectedSig = Buffer.from(sign(instanceId, nonce));
    const given = Buffer.from(signature);
    return given.length === expectedSig.length && timingSafeEqual(given, expectedSig);
  };

  /** A new session on the instance's shared server, or a 503 beyond the cap. */
  function openSession(entry: Served, sessionId: string): HttpSession {
    if (entry.sessions.size >= maxSessions) {
      throw new BridgeError(503, `too many sessions on this instance (limit ${maxSessions})`);
    }
    const session = createHttpSession(
      sessionId,
      (sink) => entry.mux.openSession(sink),
      (ended) => {
        if (entry.sessions.get(ended.id) === ended) entry.sessions.delete(ended.id);
      },
    );
    entry.sessions.set(sessionId, session);
    return session;
  }

  /**
   * The session a request names. One another bridge process opened (before a runtime restart)
   * and signed with this bridge's key is served again without a new initialize: the server
   * process and its state are the same.
   */
  function sessionOf(instanceId: string, entry: Served, sessionId: string, method: string) {
    const session = entry.sessions.get(sessionId);
    if (session) return session;
    if (method !== "DELETE" && !entry.deleted.has(sessionId) && signedBy(instanceId, sessionId)) {
      return openSession(entry, sessionId);
    }
    throw new BridgeError(404, "Session not found", -32001);
  }

  /** Serves one exchange of a caller already authenticated (its bearer token, or its channel's). */
  async function handle(req: BridgeCall, res: ReplyStream): Promise<void> {
    const url = req.url;
    const query = url.indexOf("?");
    const match = PATH.exec(query === -1 ? url : url.slice(0, query));
    if (!match) return reply(res, 404, "not found");
    const instanceId = match[1]!;
    const entry = served.get(instanceId);
    if (!entry)
      return reply(res, 503, `instance ${instanceId} is not being served by this runtime`);
    const method = req.method;
    const header = req.headers["mcp-session-id"];
    const sessionId = typeof header === "string" ? header : undefined;
    const accept = (req.headers.accept as string | undefined) ?? "";
    const version = req.headers["mcp-protocol-version"];
    if (typeof version === "string" && !PROTOCOL_VERSIONS.has(version)) {
      throw new BridgeError(
        400,
        `Bad Request: Unsupported protocol version: ${version} (supported versions: ${[...PROTOCOL_VERSIONS].join(", ")})`,
      );
    }
    if (method === "POST") {
      if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
        throw new BridgeError(
          406,
          "Not Acceptable: Client must accept both application/json and text/event-stream",
        );
      }
      if (
        !((req.headers["content-type"] as string | undefined) ?? "").includes("application/json")
      ) {
        throw new BridgeError(415, "Unsupported Media Type: Content-Type must be application/json");
      }
      const { messages, batch } = await readMessages(req);
      const initializing = messages.some((m) => m.method === "initialize");
      if (initializing && messages.length > 1) {
        throw new BridgeError(
          400,
          "Invalid Request: Only one initialization request is allowed",
          -32600,
        );
      }
      let session: HttpSession;
      if (sessionId !== undefined) session = sessionOf(instanceId, entry, sessionId, method);
      else if (initializing) session = openSession(entry, newSessionId(instanceId));
      else throw new BridgeError(400, "Bad Request: Mcp-Session-Id header is required");
      return session.post(res, messages, batch, prefersJson(accept));
    }
    if (method === "GET" || method === "DELETE") {
      if (sessionId === undefined) {
        throw new BridgeError(400, "Bad Request: Mcp-Session-Id header is required");
      }
      if (method === "GET" && !accept.includes("text/event-stream")) {
        throw new BridgeError(406, "Not Acceptable: Client must accept text/event-stream");
      }
      const session = sessionOf(instanceId, entry, sessionId, method);
      req.discard();
      if (method === "GET") return session.listen(res);
      session.close();
      entry.deleted.add(sessionId);
      if (entry.deleted.size > MAX_DELETED) {
        entry.deleted.delete(entry.deleted.values().next().value!);
      }
      res.writeHead(200).end();
      return;
    }
    res.setHeader("allow", "GET, POST, DELETE");
    throw new BridgeError(405, "Method not allowed.");
  }

  /** Fails what is open on a served instance and closes its client sessions. */
  function end(entry: Served, reason: string): void {
    entry.mux.close(reason);
    for (const session of [...entry.sessions.values()]) session.close();
    entry.sessions.clear();
  }

  const serve = (call: BridgeCall, res: ReplyStream) => {
    handle(call, res).catch((error: Error) => {
      const known = error instanceof BridgeError;
      if (!res.headersSent) {
        if (known) reply(res, error.status, error.message, error.code);
        else reply(res, 500, "bridge error");
      } else res.destroy();
      if (!known) log.warn({ err: error }, "bridge request failed");
    });
  };

  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS, noDelay: true }, (req, res) => {
    if (!authorized(req)) {
      req.resume();
      return reply(res, 401, "missing or wrong bridge credentials");
    }
    serve(httpCall(req), res);
  });

  // The gateway's channel: an HTTP Upgrade on this port, authenticated once by the same token.
  const channels = new Set<ServedChannel>();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, first: Buffer) => {
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    socket.on("error", () => socket.destroy());
    if (
      (req.url ?? "") !== BRIDGE_CHANNEL_PATH ||
      req.headers.upgrade !== BRIDGE_CHANNEL_PROTOCOL
    ) {
      return refuse("404 Not Found");
    }
    if (!authorized(req)) return refuse("401 Unauthorized");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${BRIDGE_CHANNEL_PROTOCOL}\r\n\r\n`,
    );
    (socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const channel = serveChannel(
      socket,
      first,
      (request, reply) => serve(channelCall(request), reply),
      () => channels.delete(channel),
    );
    channels.add(channel);
  });

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const entry of served.values()) {
        for (const session of entry.sessions.values()) {
          if (now - session.lastSeen > idleMs) session.close();
        }
      }
    },
    Math.min(60_000, idleMs),
  );
  sweep.unref();

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.host, () => {
          port = (server.address() as AddressInfo).port;
          resolve(port);
        });
      }),
    url: (instanceId) => {
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      return `http://${host}:${port}/instances/${instanceId}/mcp`;
    },
    headers: () => ({ authorization: `Bearer ${token}`, [BRIDGE_CHANNEL_HEADER]: "1" }),
    attach(instanceId, channel) {
      const previous = served.get(instanceId);
      if (previous) end(previous, "replaced by a new server process");
      const entry: Served = {
        sessions: new Map(),
        deleted: new Set(),
        mux: createStdioMux({ send: (message) => writeLine(channel, message) }),
      };
      served.set(instanceId, entry);
      readLines(channel, {
        message: (message) => entry.mux.receive(message),
        end: () => end(entry, "the MCP server process ended"),
        ignored: (bytes) => log.debug({ instance_id: instanceId, bytes }, "non-JSON-RPC output"),
      });
      const ready = entry.mux.initialize().then(() => undefined);
      ready.catch(() => undefined);
      return {
        ready,
        detach(reason) {
          if (served.get(instanceId) === entry) served.delete(instanceId);
          end(entry, reason);
          channel.close();
        },
      };
    },
    async close() {
      clearInterval(sweep);
      for (const entry of served.values()) end(entry, "the runtime is stopping");
      served.clear();
      for (const channel of [...channels]) channel.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTP request as a BridgeCall. */
function httpCall(req: IncomingMessage): BridgeCall {
  return {
    method: req.method ?? "GET",
    url: req.url ?? "/",
    headers: req.headers,
    discard: () => void req.resume(),
    body: (max) =>
      new Promise((resolve, reject) => {
        if (Number(req.headers["content-length"] ?? 0) > max) {
          return reject(new BridgeError(413, "request body too large"));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > max) {
            req.destroy();
            return reject(new BridgeError(413, "request body too large"));
          }
          chunks.push(chunk);
        });
        req.once("error", reject);
        req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      }),
  };
}

/** An exchange of the channel as a BridgeCall: its body came whole with it. */
function channelCall(request: ChannelRequest): BridgeCall {
  return {
    method: request.method,
    url: request.path,
    headers: request.headers,
    discard: () => undefined,
    body: async (max) => {
      if (request.body.length > max) throw new BridgeError(413, "request body too large");
      return request.body;
    },
  };
}
