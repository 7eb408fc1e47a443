import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@berth/platform";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { StdioChannel } from "../drivers/types.js";
import type { RpcMessage } from "./json-rpc.js";
import { readLines, writeLine } from "./line-channel.js";
import { createStdioMux, type MuxSession, type StdioMux } from "./stdio-mux.js";

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
  /** Headers a caller must send (the bridge's bearer token). */
  headers(): Record<string, string>;
  attach(instanceId: string, channel: StdioChannel): BridgeAttachment;
  close(): Promise<void>;
}

interface ClientSession {
  transport: StreamableHTTPServerTransport;
  mux: MuxSession;
  lastSeen: number;
}

interface Served {
  mux: StdioMux;
  sessions: Map<string, ClientSession>;
}

const PATH = /^\/instances\/([A-Za-z0-9_.-]{1,255})\/mcp$/;

/**
 * Creates the bridge. Each client gets its own MCP session (the SDK's Streamable HTTP server
 * transport) over the instance's one shared server process; callers present a bearer token
 * generated per runtime process, handed out with the endpoint by ResolveEndpoint.
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
  let port = 0;

  const reply = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }));
  };

  const authorized = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const limit = options.maxBodyBytes ?? 4 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw Object.assign(new Error("request body too large"), { status: 413 });
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw Object.assign(new Error("request body is not JSON"), { status: 400 });
    }
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

  /** The client side of a session over the shared server: its messages go through the mux. */
  function wire(entry: Served, transport: StreamableHTTPServerTransport): ClientSession {
    const mux = entry.mux.openSession((message, relatedRequestId) => {
      transport
        .send(message as JSONRPCMessage, relatedRequestId === undefined ? {} : { relatedRequestId })
        .catch(() => undefined); // the client's stream is gone; it will ask again or cancel
    });
    transport.onmessage = (message) => mux.receive(message as RpcMessage);
    transport.onclose = () => {
      mux.close();
      if (transport.sessionId) entry.sessions.delete(transport.sessionId);
    };
    return { transport, mux, lastSeen: Date.now() };
  }

  /**
   * A session another bridge process opened (before a runtime restart), signed by this bridge's
   * key: served again without a new initialize, since the server process and its state are the
   * same. The SDK transport has no public way to start as initialized, so its two fields are set;
   * undefined (Session not found) if a newer SDK moved them.
   */
  async function restoreSession(
    entry: Served,
    sessionId: string,
  ): Promise<ClientSession | undefined> {
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => sessionId });
    const inner = (transport as unknown as { _webStandardTransport?: Record<string, unknown> })
      ._webStandardTransport;
    if (inner?._initialized !== false) return undefined;
    inner._initialized = true;
    inner.sessionId = sessionId;
    const session = wire(entry, transport);
    entry.sessions.set(sessionId, session);
    await transport.start();
    return session;
  }

  async function openSession(
    instanceId: string,
    entry: Served,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ) {
    if (entry.sessions.size >= maxSessions) {
      return reply(res, 503, `too many sessions on this instance (limit ${maxSessions})`);
    }
    let session: ClientSession | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => newSessionId(instanceId),
      onsessioninitialized: (id) => {
        if (session) entry.sessions.set(id, session);
      },
    });
    session = wire(entry, transport);
    await transport.start();
    await transport.handleRequest(req, res, body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = PATH.exec(new URL(req.url ?? "/", "http://bridge").pathname);
    if (!match) return reply(res, 404, "not found");
    if (!authorized(req)) return reply(res, 401, "missing or wrong bridge credentials");
    const instanceId = match[1]!;
    const entry = served.get(instanceId);
    if (!entry)
      return reply(res, 503, `instance ${instanceId} is not being served by this runtime`);
    const sessionId = req.headers["mcp-session-id"];
    const body = req.method === "POST" ? await readBody(req) : undefined;
    if (typeof sessionId === "string") {
      let session = entry.sessions.get(sessionId);
      if (!session && signedBy(instanceId, sessionId) && req.method !== "DELETE") {
        if (entry.sessions.size >= maxSessions) {
          return reply(res, 503, `too many sessions on this instance (limit ${maxSessions})`);
        }
        session = await restoreSession(entry, sessionId);
      }
      if (!session) return reply(res, 404, "Session not found");
      session.lastSeen = Date.now();
      return session.transport.handleRequest(req, res, body);
    }
    const messages = Array.isArray(body) ? body : [body];
    if (req.method === "POST" && messages.some((m) => (m as RpcMessage)?.method === "initialize")) {
      return openSession(instanceId, entry, req, res, body);
    }
    return reply(res, 400, "Bad Request: Mcp-Session-Id header is required");
  }

  /** Fails what is open on a served instance and closes its client sessions. */
  function end(entry: Served, reason: string): void {
    entry.mux.close(reason);
    for (const session of entry.sessions.values()) void session.transport.close();
    entry.sessions.clear();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error & { status?: number }) => {
      if (!res.headersSent)
        reply(res, error.status ?? 500, error.status ? error.message : "bridge error");
      else res.destroy();
      if (!error.status) log.warn({ err: error }, "bridge request failed");
    });
  });

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const entry of served.values()) {
        for (const session of entry.sessions.values()) {
          if (now - session.lastSeen > idleMs) void session.transport.close();
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
    headers: () => ({ authorization: `Bearer ${token}` }),
    attach(instanceId, channel) {
      const previous = served.get(instanceId);
      if (previous) end(previous, "replaced by a new server process");
      const entry: Served = {
        sessions: new Map(),
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
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
