import type { Duplex } from "node:stream";
import {
  type ChannelRequest,
  createFrameReader,
  decodeOpen,
  encodeFrame,
  encodeHead,
  FrameType,
} from "@berth/platform";
import type { ReplyStream } from "./reply-stream.js";

/** Serves one exchange that arrived over the channel (the bridge's request handler). */
export type ChannelExchangeHandler = (request: ChannelRequest, reply: ReplyStream) => void;

/** One open channel, as the bridge tracks it to end it on close. */
export interface ServedChannel {
  close(): void;
}

/**
 * Serves the gateway's channel (packages/platform/src/mcp/bridge-channel.ts) on an upgraded,
 * already authenticated socket: each OPEN frame is one exchange, answered through a ReplyStream
 * whose head, data and end become HEAD, DATA and END frames; a JSON answer (head and body at once)
 * leaves in one write. A malformed frame ends the channel and every exchange on it.
 */
export function serveChannel(
  socket: Duplex,
  first: Buffer,
  handle: ChannelExchangeHandler,
  onClose: () => void,
): ServedChannel {
  const replies = new Map<number, ChannelReply>();
  let closed = false;
  const send = (frame: Buffer) => {
    if (!closed) socket.write(frame);
  };
  const read = createFrameReader((type, stream, payload) => {
    if (type === FrameType.open) {
      if (replies.has(stream)) throw new Error(`stream ${stream} is already open`);
      const request = decodeOpen(payload);
      const reply = new ChannelReply(stream, send, () => replies.delete(stream));
      replies.set(stream, reply);
      handle(request, reply);
    } else if (type === FrameType.reset) {
      replies.get(stream)?.aborted();
    } else throw new Error(`unexpected channel frame type ${type}`);
  });
  const end = () => {
    if (closed) return;
    closed = true;
    for (const reply of [...replies.values()]) reply.aborted();
    replies.clear();
    socket.destroy();
    onClose();
  };
  socket.on("data", (chunk: Buffer) => {
    try {
      read(chunk);
    } catch {
      end();
    }
  });
  socket.on("close", end);
  socket.on("error", end);
  if (first.length > 0) socket.emit("data", first);
  return { close: end };
}

/** An exchange's answer, written as frames. */
class ChannelReply implements ReplyStream {
  private status = 200;
  private headers: Record<string, string> = {};
  private headSet = false;
  private headSent = false;
  private ended = false;
  private closed = false;
  private listeners: Array<() => void> = [];

  constructor(
    private readonly stream: number,
    private readonly send: (frame: Buffer) => void,
    private readonly forget: () => void,
  ) {}

  get headersSent(): boolean {
    return this.headSet;
  }

  get writableEnded(): boolean {
    return this.ended;
  }

  setHeader(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }

  writeHead(status: number, headers?: Record<string, string>): this {
    this.status = status;
    if (headers) Object.assign(this.headers, headers);
    this.headSet = true;
    return this;
  }

  flushHeaders(): void {
    if (this.closed) return;
    const head = this.head();
    if (head) this.send(head);
  }

  write(chunk: string): boolean {
    if (this.closed || this.ended) return false;
    const data = encodeFrame(FrameType.data, this.stream, chunk);
    const head = this.head();
    this.send(head ? Buffer.concat([head, data]) : data);
    return true;
  }

  end(chunk?: string): this {
    if (this.closed || this.ended) return this;
    this.ended = true;
    const frames: Buffer[] = [];
    const head = this.head();
    if (head) frames.push(head);
    if (chunk) frames.push(encodeFrame(FrameType.data, this.stream, chunk));
    frames.push(encodeFrame(FrameType.end, this.stream));
    this.send(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    this.finish();
    return this;
  }

  destroy(): void {
    if (this.closed) return;
    this.send(encodeFrame(FrameType.reset, this.stream));
    this.finish();
  }

  once(_event: "close", listener: () => void): this {
    if (this.closed) queueMicrotask(listener);
    else this.listeners.push(listener);
    return this;
  }

  /** The gateway ended the exchange (its client went away) or the channel closed. */
  aborted(): void {
    this.finish();
  }

  /** The head frame, once: the first write of the answer carries it. */
  private head(): Buffer | undefined {
    if (this.headSent) return undefined;
    this.headSent = true;
    this.headSet = true;
    return encodeHead(this.stream, { status: this.status, headers: this.headers });
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.forget();
    // After the caller's own step, as a ServerResponse emits "close".
    const listeners = this.listeners.splice(0);
    if (listeners.length === 0) return;
    queueMicrotask(() => {
      for (const listener of listeners) listener();
    });
  }
}
