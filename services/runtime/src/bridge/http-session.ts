import { idKey, isRequest, isResponse, type RpcId, type RpcMessage } from "./json-rpc.js";
import type { ReplyStream } from "./reply-stream.js";
import type { ClientSink, MuxSession } from "./stdio-mux.js";

/**
 * One client's MCP Streamable HTTP session on the bridge, over its view of the shared server
 * (a MuxSession). Messages are relayed as they are: the bridge parses only what routing needs
 * (ids and methods, in the mux), never validates a message's schema.
 */
export interface HttpSession {
  readonly id: string;
  /** When the client last sent anything (the idle sweep closes forgotten sessions). */
  lastSeen: number;
  /**
   * Serves a POST of these messages (already parsed; `batch` when the body was an array).
   * `json`: the client prefers application/json to an event stream (its Accept header).
   */
  post(res: ReplyStream, messages: RpcMessage[], batch: boolean, json: boolean): void;
  /** Opens the session's standalone event stream (GET). */
  listen(res: ReplyStream): void;
  /** Ends the session: its streams end, its requests upstream are cancelled. */
  close(): void;
}

/** Opens the client's view of the shared server; the sink receives what is meant for it. */
export type OpenMuxSession = (sink: ClientSink) => MuxSession;

/** A POST's answer: JSON when it is one request answered with nothing before, else SSE. */
interface ResponseStream {
  res: ReplyStream;
  /** Keys of the requests of this POST still unanswered. */
  open: Set<string>;
  /** Headers sent as text/event-stream. */
  sse: boolean;
  /** One request: its answer may go as plain JSON if nothing precedes it. */
  single: boolean;
}

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

/**
 * Creates a session. A POST with requests holds its response until every request of it is
 * answered. When the client prefers JSON (most do: `Accept: application/json, text/event-stream`),
 * a lone request answered with nothing before it gets `application/json` (no event stream to set
 * up or parse on the common path), and any message related to the request before its answer
 * (progress, logging, sampling, elicitation) turns the response into an event stream, as the
 * transport allows; otherwise the answer is an event stream from the start. Messages related to no open request go to the GET stream.
 */
export function createHttpSession(
  id: string,
  openMux: OpenMuxSession,
  onClose: (session: HttpSession) => void,
): HttpSession {
  const byRequest = new Map<string, ResponseStream>();
  const streams = new Set<ResponseStream>();
  let standalone: ReplyStream | undefined;
  let closed = false;

  const event = (message: RpcMessage) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;

  const finish = (stream: ResponseStream) => {
    streams.delete(stream);
    for (const key of stream.open) byRequest.delete(key);
    stream.open.clear();
  };

  const toStream = (stream: ResponseStream, message: RpcMessage, key: string | undefined) => {
    const { res } = stream;
    const answer = key !== undefined && stream.open.delete(key);
    if (answer) byRequest.delete(key);
    if (!stream.sse) {
      if (answer && stream.single) {
        finish(stream);
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": id });
        res.end(JSON.stringify(message));
        return;
      }
      stream.sse = true;
      res.writeHead(200, { ...SSE_HEADERS, "mcp-session-id": id });
    }
    res.write(event(message));
    if (answer && stream.open.size === 0) {
      finish(stream);
      res.end();
    }
  };

  const deliver: ClientSink = (message, related) => {
    if (closed) return;
    const key = related === undefined ? undefined : idKey(related);
    const stream = key === undefined ? undefined : byRequest.get(key);
    if (stream) {
      toStream(stream, message, isResponse(message) ? idKey(message.id as RpcId) : undefined);
      return;
    }
    // An answer whose request's stream is gone has no one left to read it.
    if (isResponse(message)) return;
    if (standalone && !standalone.writableEnded) standalone.write(event(message));
  };

  const mux = openMux(deliver);

  const session: HttpSession = {
    id,
    lastSeen: Date.now(),
    post(res, messages, batch, json) {
      session.lastSeen = Date.now();
      const requests = messages.filter(isRequest);
      if (requests.length === 0) {
        res.writeHead(202, { "mcp-session-id": id }).end();
      } else {
        const stream: ResponseStream = {
          res,
          open: new Set(requests.map((m) => idKey(m.id as RpcId))),
          sse: false,
          single: json && !batch && requests.length === 1,
        };
        if (!stream.single) {
          // An event stream from the start: a batch (one event per answer), or a client that
          // prefers one.
          stream.sse = true;
          res.writeHead(200, { ...SSE_HEADERS, "mcp-session-id": id });
          res.flushHeaders();
        }
        streams.add(stream);
        for (const key of stream.open) byRequest.set(key, stream);
        res.once("close", () => {
          if (stream.open.size > 0) finish(stream);
        });
      }
      // After the stream is in place: the mux may answer at once (ping, a gone server).
      for (const message of messages) mux.receive(message);
    },
    listen(res) {
      session.lastSeen = Date.now();
      if (standalone && !standalone.writableEnded) {
        res.writeHead(409, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: null,
            error: {
              code: -32000,
              message: "Conflict: Only one SSE stream is allowed per session",
            },
          }),
        );
        return;
      }
      const stream = res;
      standalone = stream;
      stream.writeHead(200, { ...SSE_HEADERS, "mcp-session-id": id });
      stream.flushHeaders();
      stream.once("close", () => {
        if (standalone === stream) standalone = undefined;
      });
    },
    close() {
      if (closed) return;
      closed = true;
      mux.close();
      for (const stream of streams) {
        if (!stream.res.headersSent) stream.res.writeHead(200, SSE_HEADERS);
        stream.res.end();
      }
      streams.clear();
      byRequest.clear();
      standalone?.end();
      standalone = undefined;
      onClose(session);
    },
  };
  return session;
}
