import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { HttpRequest, HttpResponse, OnePortServer, OnePortServerOptions } from "./types.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const PEEK_TIMEOUT_MS = 10_000;

/**
 * Serves Connect, gRPC-Web and gRPC (HTTP/2 cleartext) and REST on one port. Node's http2 server
 * refuses HTTP/1.1 without TLS, so a net.Server peeks at the first bytes of every connection and
 * hands it to an HTTP/2 server (the client preface) or an HTTP/1.1 server (anything else).
 */
export function createOnePortServer(options: OnePortServerOptions): OnePortServer {
  const { logger } = options;
  const shutdown = new AbortController();
  const connect = connectNodeAdapter({
    ...options.connect,
    shutdownSignal: options.connect?.shutdownSignal ?? shutdown.signal,
    routes: options.routes,
    fallback: (req, res) => options.rest(req, res as HttpResponse),
  });
  let closing = false;
  const handle = (req: HttpRequest, res: HttpResponse) => {
    if (closing && !("stream" in res)) res.setHeader("connection", "close");
    try {
      if (options.extra?.(req, res)) return;
      connect(req, res);
    } catch (error) {
      logger.error({ err: error }, "request handler failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end('{"error":{"code":500,"status":"INTERNAL","message":"internal error"}}');
    }
  };
  const wrapped = options.wrap ? options.wrap(handle) : handle;
  const h1 = http.createServer(wrapped);
  const h2 = http2.createServer(wrapped);
  const sockets = new Set<net.Socket>();
  const peeking = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
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
        shutdown.abort();
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
