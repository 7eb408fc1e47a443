import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { HttpRequest, HttpResponse, OnePortServer, OnePortServerOptions } from "./types.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const PEEK_TIMEOUT_MS = 10_000;

/** The server's defaults for OnePortServerOptions.limits. */
export const DEFAULT_LIMITS: Required<NonNullable<OnePortServerOptions["limits"]>> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 120_000,
  maxConnections: 4_096,
};

/**
 * HTTP/1.1 and HTTP/2 cleartext (h2c, for gRPC) on one port. Node's http2 server refuses HTTP/1.1
 * without TLS, so a net.Server peeks at the first bytes of every connection and hands it to an
 * HTTP/2 server (the client preface) or an HTTP/1.1 server (anything else). Every request goes to
 * the one handler (the front door).
 */
export function createOnePortServer(options: OnePortServerOptions): OnePortServer {
  const { logger } = options;
  let closing = false;
  const handle = (req: HttpRequest, res: HttpResponse) => {
    if (closing && !("stream" in res)) res.setHeader("connection", "close");
    options.handle(req, res);
  };
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  // Slow or idle clients cannot hold a connection: headers, the whole request and the idle time
  // between requests are bounded on HTTP/1.1; an HTTP/2 session without frames is closed
  // gracefully (its open streams finish first).
  const h1 = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often those timeouts are checked (Node's default, 30 s, would let a slow client hold
      // a connection for that long whatever the timeouts say).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    handle,
  );
  const h2 = http2.createServer({}, handle);
  const sockets = new Set<net.Socket>();
  const peeking = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.setTimeout(limits.http2IdleTimeoutMs, () => session.close());
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  });
  h1.on("request", (_req, res: http.ServerResponse) => {
    // A keep-alive connection turns idle when its response ends: close it then.
    res.once("finish", () => closing && setImmediate(() => h1.closeIdleConnections()));
  });

  // noDelay: sockets handed over by emit("connection") never get the http servers' own
  // TCP_NODELAY, and Nagle then holds a response body behind its headers until the client's
  // delayed ACK: ~30 ms on every proxied MCP call (measured in bench/RESULTS.md).
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    peeking.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      peeking.delete(socket);
    });
    let head = Buffer.alloc(0);
    const fail = () => socket.destroy();
    const timer = setTimeout(fail, PEEK_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const isH2 = head.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && head.length < PREFACE.length) return; // Could still be the preface: wait.
      clearTimeout(timer);
      peeking.delete(socket);
      socket.off("data", onData);
      socket.off("error", fail);
      socket.pause();
      socket.unshift(head);
      (isH2 ? h2 : h1).emit("connection", socket);
      // The HTTP/1.1 parser reads the socket's handle directly once resumed; HTTP/2 reads the
      // unshifted bytes itself.
      if (!isH2) socket.resume();
    };
    socket.on("data", onData);
    socket.on("error", fail);
    socket.once("close", () => clearTimeout(timer));
  });

  // Connections beyond the cap are closed as they arrive, so one client cannot exhaust the process.
  server.maxConnections = limits.maxConnections;

  return {
    listen(port, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          // Starts the HTTP/1.1 server's connection tracking (idle close, header/request timeouts),
          // which Node only sets up when that server itself listens.
          h1.emit("listening");
          resolve((server.address() as net.AddressInfo).port);
        });
      });
    },

    async close() {
      if (closing) return;
      closing = true;
      server.close();
      for (const socket of peeking) socket.destroy();
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
      const deadline = options.closeTimeoutMs ?? 10_000;
      if (!(await allClosed(sockets, deadline))) {
        logger.warn(
          { connections: sockets.size },
          "closing connections with calls still in flight",
        );
        options.onForceClose?.();
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }
      h1.close(); // Stops the connection-check interval.
    },
  };
}

/** Resolves true once every socket closed, false when the time is up. */
async function allClosed(sockets: Set<net.Socket>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (sockets.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, deadline - Date.now())));
  }
  return sockets.size === 0;
}
