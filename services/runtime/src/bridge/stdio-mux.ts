import {
  errorResponse,
  idKey,
  isNotification,
  isRequest,
  isResponse,
  RPC_ERRORS,
  type RpcId,
  type RpcMessage,
  resultResponse,
} from "./json-rpc.js";

const LATEST_PROTOCOL_VERSION = "2025-11-25";
const KNOWN_PROTOCOL_VERSIONS = new Set([
  LATEST_PROTOCOL_VERSION,
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
]);

/** Delivers a message to one client; relatedRequestId ties it to that client's request stream. */
export type ClientSink = (message: RpcMessage, relatedRequestId?: RpcId) => void;

/** One client's view of the shared server. */
export interface MuxSession {
  /** A message from this client. */
  receive(message: RpcMessage): void;
  /** The client went away: its requests are cancelled upstream. */
  close(): void;
}

/** Options of createStdioMux. */
export interface StdioMuxOptions {
  /** Writes one message to the server's stdin. */
  send(message: RpcMessage): void;
  initTimeoutMs?: number;
}

/** One shared stdio MCP server, multiplexed between many clients. */
export interface StdioMux {
  /** A message from the server's stdout. */
  receive(message: RpcMessage): void;
  /** Initializes the server once; resolves with its InitializeResult. */
  initialize(): Promise<Record<string, unknown>>;
  openSession(sink: ClientSink): MuxSession;
  /** The server is gone: every open request fails, every session ends. */
  close(reason: string): void;
  readonly sessionCount: number;
}

interface Pending {
  session: Session;
  clientId: RpcId;
  /** The client's own progress token, when it asked for progress. */
  progressToken?: string | number;
}

interface Session extends MuxSession {
  sink: ClientSink;
  lastActive: number;
}

/**
 * The multiplexer behind the stdio bridge. The server is initialized once; each client's
 * initialize is answered from that result. Client request ids (and progress tokens) are
 * rewritten to bridge-unique numbers so each response reaches the client that asked. Server
 * requests go to the client whose request is in flight (else the last active one), progress to
 * its request's client, other notifications to every client.
 */
export function createStdioMux(options: StdioMuxOptions): StdioMux {
  let nextId = 1;
  let closedReason: string | undefined;
  const pending = new Map<number, Pending>();
  const own = new Map<number, (message: RpcMessage) => void>();
  const serverRequests = new Map<string, Session>();
  const sessions = new Set<Session>();
  let initialized: Promise<Record<string, unknown>> | undefined;

  const send = (message: RpcMessage) => {
    if (!closedReason) options.send(message);
  };

  function ownRequest(method: string, params: Record<string, unknown>): Promise<RpcMessage> {
    const id = nextId++;
    return new Promise((resolve) => {
      own.set(id, resolve);
      send({ jsonrpc: "2.0", id, method, params });
    });
  }

  function initialize(): Promise<Record<string, unknown>> {
    initialized ??= (async () => {
      if (closedReason) throw new Error(closedReason);
      const timeoutMs = options.initTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the MCP server did not answer initialize within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        const answer = await Promise.race([
          ownRequest("initialize", {
            protocolVersion: LATEST_PROTOCOL_VERSION,
            capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: {} },
            clientInfo: { name: "berth-runtime-bridge", version: "0.1.0" },
          }),
          timeout,
        ]);
        if (answer.error) throw new Error(`initialize failed: ${answer.error.message}`);
        send({ jsonrpc: "2.0", method: "notifications/initialized" });
        return answer.result as Record<string, unknown>;
      } finally {
        clearTimeout(timer);
      }
    })();
    return initialized;
  }

  /** The session whose request was sent last and is still open, with that request's id. */
  function targetOfServerRequest(): { session: Session; related?: RpcId } | undefined {
    const entries = [...pending.values()];
    const last = entries[entries.length - 1];
    if (last) return { session: last.session, related: last.clientId };
    let best: Session | undefined;
    for (const s of sessions) if (!best || s.lastActive >= best.lastActive) best = s;
    return best ? { session: best } : undefined;
  }

  function fromServer(message: RpcMessage): void {
    if (isResponse(message)) {
      const id = message.id as number;
      const mine = own.get(id);
      if (mine) {
        own.delete(id);
        mine(message);
        return;
      }
      const entry = pending.get(id);
      if (!entry) return; // its client went away
      pending.delete(id);
      entry.session.sink({ ...message, id: entry.clientId }, entry.clientId);
      return;
    }
    if (isRequest(message)) {
      if (message.method === "ping") {
        send(resultResponse(message.id!, {}));
        return;
      }
      const target = targetOfServerRequest();
      if (!target) {
        const reply =
          message.method === "roots/list"
            ? resultResponse(message.id!, { roots: [] })
            : errorResponse(message.id!, RPC_ERRORS.internal, "no MCP client is connected");
        send(reply);
        return;
      }
      serverRequests.set(idKey(message.id!), target.session);
      target.session.sink(message, target.related);
      return;
    }
    if (!isNotification(message)) return;
    if (message.method === "notifications/progress") {
      const entry = pending.get(Number(message.params?.progressToken));
      if (entry?.progressToken === undefined) return;
      const params = { ...message.params, progressToken: entry.progressToken };
      entry.session.sink({ ...message, params }, entry.clientId);
      return;
    }
    if (message.method === "notifications/cancelled") {
      const requestId = message.params?.requestId as RpcId | undefined;
      const session = requestId === undefined ? undefined : serverRequests.get(idKey(requestId));
      if (session) {
        serverRequests.delete(idKey(requestId!));
        session.sink(message);
      }
      return;
    }
    for (const session of sessions) session.sink(message);
  }

  function fromClient(session: Session, message: RpcMessage): void {
    session.lastActive = Date.now();
    if (isRequest(message)) {
      const clientId = message.id!;
      if (closedReason) {
        session.sink(errorResponse(clientId, RPC_ERRORS.serverGone, closedReason), clientId);
        return;
      }
      if (message.method === "initialize") {
        initialize().then(
          (result) => {
            const asked = String(message.params?.protocolVersion ?? "");
            const protocolVersion = KNOWN_PROTOCOL_VERSIONS.has(asked)
              ? asked
              : result.protocolVersion;
            session.sink(resultResponse(clientId, { ...result, protocolVersion }), clientId);
          },
          (error: Error) =>
            session.sink(errorResponse(clientId, RPC_ERRORS.serverGone, error.message), clientId),
        );
        return;
      }
      if (message.method === "ping") {
        session.sink(resultResponse(clientId, {}), clientId);
        return;
      }
      const upstreamId = nextId++;
      const meta = message.params?._meta;
      const progressToken = meta?.progressToken as string | number | undefined;
      pending.set(upstreamId, { session, clientId, progressToken });
      const params =
        progressToken === undefined
          ? message.params
          : { ...message.params, _meta: { ...meta, progressToken: upstreamId } };
      send({ ...message, id: upstreamId, ...(params ? { params } : {}) });
      return;
    }
    if (isResponse(message)) {
      const key = idKey(message.id!);
      if (serverRequests.get(key) !== session) return;
      serverRequests.delete(key);
      send(message);
      return;
    }
    if (message.method === "notifications/initialized") return; // the bridge initialized already
    if (message.method === "notifications/cancelled") {
      const requestId = message.params?.requestId as RpcId | undefined;
      for (const [upstreamId, entry] of pending) {
        if (entry.session !== session || entry.clientId !== requestId) continue;
        pending.delete(upstreamId);
        send({ ...message, params: { ...message.params, requestId: upstreamId } });
      }
      return;
    }
    send(message);
  }

  function endSession(session: Session, notifyServer: boolean): void {
    if (!sessions.delete(session)) return;
    for (const [upstreamId, entry] of pending) {
      if (entry.session !== session) continue;
      pending.delete(upstreamId);
      if (notifyServer) {
        send({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: upstreamId, reason: "the client went away" },
        });
      }
    }
    for (const [key, owner] of serverRequests) {
      if (owner !== session) continue;
      serverRequests.delete(key);
      const id = key.startsWith("number:") ? Number(key.slice(7)) : key.slice(7);
      if (notifyServer) send(errorResponse(id, RPC_ERRORS.internal, "the client went away"));
    }
  }

  return {
    receive: fromServer,
    initialize,
    openSession(sink) {
      const session: Session = {
        sink,
        lastActive: Date.now(),
        receive: (message) => fromClient(session, message),
        close: () => endSession(session, true),
      };
      sessions.add(session);
      return session;
    },
    close(reason) {
      if (closedReason) return;
      closedReason = reason;
      for (const [, entry] of pending) {
        entry.session.sink(
          errorResponse(entry.clientId, RPC_ERRORS.serverGone, reason),
          entry.clientId,
        );
      }
      pending.clear();
      for (const resolve of own.values()) resolve(errorResponse(0, RPC_ERRORS.serverGone, reason));
      own.clear();
      for (const session of [...sessions]) endSession(session, false);
    },
    get sessionCount() {
      return sessions.size;
    },
  };
}
