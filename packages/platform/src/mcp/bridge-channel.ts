/**
 * The gateway → runtime bridge channel: one long-lived connection per gateway and runtime that
 * carries every MCP exchange with the runtime's stdio bridge, instead of one HTTP/1.1 exchange per
 * call. It is opened as an HTTP Upgrade on the bridge's own port (so the bridge's bearer token
 * authenticates it once, as it authenticates each HTTP call) and then carries length-prefixed
 * binary frames, many exchanges interleaved. Measured on Node 20 (loopback, one small JSON-RPC
 * call and answer): HTTP/1.1 keep-alive costs about 300 µs of CPU per call on the client and 225
 * on the server, HTTP/2 (node:http2) more than that, these frames about 100 on each side.
 *
 * A frame: u32 length of what follows, u8 type, u32 stream id, payload. An exchange is a stream:
 * OPEN (the request: method, path, headers, and its whole body) from the gateway; HEAD (status,
 * headers), DATA and END from the runtime; RESET from either side ends it early (the client went
 * away, or the bridge cut the answer short).
 */

/** The Upgrade token of the channel. */
export const BRIDGE_CHANNEL_PROTOCOL = "berth-bridge-channel/1";
/** The path the channel is opened on. */
export const BRIDGE_CHANNEL_PATH = "/channel";
/**
 * The header with which the runtime marks an endpoint as its stdio bridge, reachable over the
 * channel (RuntimeService.ResolveEndpoint). Callers that know the channel take it out
 * (splitBridgeChannel); others send it on as a harmless header and speak HTTP.
 */
export const BRIDGE_CHANNEL_HEADER = "x-berth-bridge-channel";

/** Frame types. */
export const FrameType = { open: 1, head: 2, data: 3, end: 4, reset: 5 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** An exchange's request: what the bridge needs of an HTTP request. */
export interface ChannelRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** An exchange's answer head. */
export interface ChannelHead {
  status: number;
  headers: Record<string, string>;
}

const PREFIX = 9; // u32 length, u8 type, u32 stream
/** The largest frame a reader accepts (a body is bounded well below by the callers' limits). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** One frame, ready to write. */
export function encodeFrame(type: FrameType, stream: number, payload?: Buffer | string): Buffer {
  const size = payload === undefined ? 0 : Buffer.byteLength(payload);
  const frame = Buffer.allocUnsafe(PREFIX + size);
  frame.writeUInt32BE(size + 5, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32BE(stream, 5);
  if (typeof payload === "string") frame.write(payload, PREFIX);
  else if (payload) payload.copy(frame, PREFIX);
  return frame;
}

/** An OPEN frame: u32 length of the JSON head, the head, then the body as it is. */
export function encodeOpen(stream: number, request: ChannelRequest): Buffer {
  const head = JSON.stringify({ m: request.method, p: request.path, h: request.headers });
  const headBytes = Buffer.byteLength(head);
  const size = 4 + headBytes + request.body.length;
  const frame = Buffer.allocUnsafe(PREFIX + size);
  frame.writeUInt32BE(size + 5, 0);
  frame.writeUInt8(FrameType.open, 4);
  frame.writeUInt32BE(stream, 5);
  frame.writeUInt32BE(headBytes, PREFIX);
  frame.write(head, PREFIX + 4);
  request.body.copy(frame, PREFIX + 4 + headBytes);
  return frame;
}

/** Reads an OPEN frame's payload; throws on a malformed one. */
export function decodeOpen(payload: Buffer): ChannelRequest {
  const headBytes = payload.readUInt32BE(0);
  const head = JSON.parse(payload.toString("utf8", 4, 4 + headBytes)) as {
    m?: unknown;
    p?: unknown;
    h?: unknown;
  };
  if (typeof head.m !== "string" || typeof head.p !== "string" || typeof head.h !== "object") {
    throw new Error("malformed channel request");
  }
  return {
    method: head.m,
    path: head.p,
    headers: (head.h ?? {}) as Record<string, string>,
    body: payload.subarray(4 + headBytes),
  };
}

/** A HEAD frame. */
export function encodeHead(stream: number, head: ChannelHead): Buffer {
  return encodeFrame(FrameType.head, stream, JSON.stringify({ s: head.status, h: head.headers }));
}

/** Reads a HEAD frame's payload; throws on a malformed one. */
export function decodeHead(payload: Buffer): ChannelHead {
  const head = JSON.parse(payload.toString("utf8")) as { s?: unknown; h?: unknown };
  if (typeof head.s !== "number" || typeof head.h !== "object" || head.h === null) {
    throw new Error("malformed channel answer head");
  }
  return { status: head.s, headers: head.h as Record<string, string> };
}

/** What a frame reader hands on. */
export type FrameHandler = (type: number, stream: number, payload: Buffer) => void;

/**
 * Splits a byte stream into frames. Returns the function to feed chunks to; it throws when a
 * frame announces more than MAX_FRAME_BYTES (the caller closes the connection). A chunk holding
 * whole frames (the common case) is read without copying.
 */
export function createFrameReader(onFrame: FrameHandler): (chunk: Buffer) => void {
  let pending: Buffer | undefined;
  return (chunk) => {
    let buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const size = buffer.readUInt32BE(offset);
      if (size < 5 || size > MAX_FRAME_BYTES) throw new Error(`bad channel frame size ${size}`);
      if (buffer.length - offset < 4 + size) break;
      onFrame(
        buffer.readUInt8(offset + 4),
        buffer.readUInt32BE(offset + 5),
        buffer.subarray(offset + PREFIX, offset + 4 + size),
      );
      offset += 4 + size;
    }
    if (offset < buffer.length) {
      buffer = buffer.subarray(offset);
      // A copy: the socket may reuse the chunk's memory.
      pending = Buffer.from(buffer);
    }
  };
}

/** An endpoint's headers without the channel marker, and whether the marker was there. */
export function splitBridgeChannel(headers: Readonly<Record<string, string>>): {
  headers: Record<string, string>;
  channel: boolean;
} {
  if (headers[BRIDGE_CHANNEL_HEADER] === undefined)
    return { headers: { ...headers }, channel: false };
  const { [BRIDGE_CHANNEL_HEADER]: _, ...rest } = headers;
  return { headers: rest, channel: true };
}
