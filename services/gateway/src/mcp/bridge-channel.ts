import * as http from "node:http";
import type { Socket } from "node:net";
import {
  BRIDGE_CHANNEL_PATH,
  BRIDGE_CHANNEL_PROTOCOL,
  type ChannelHead,
  type ChannelRequest,
  createFrameReader,
  decodeHead,
  encodeFrame,
  encodeOpen,
  FrameType,
} from "@berth/platform";
import type { ForwardPhase } from "./upstream-retry.js";

/** Where a runtime's bridge listens, and the token that opens its channel. */
export interface ChannelTarget {
  hostname: string;
  port: string;
  /** The bridge's `authorization` header value. */
  authorization: string;
}

/** What an exchange's caller is told, in order: head, data…, end; or failed at any point. */
export interface ExchangeHandlers {
  head(head: ChannelHead): void;
  data(chunk: Buffer): void;
  end(): void;
  /**
   * The exchange did not complete. `phase` "connect": the channel could not be opened, nothing
   * was sent; "request": it was sent and no head came back; "response": the answer was cut short.
   */
  failed(code: string, phase: ForwardPhase): void;
}

/** An exchange under way. */
export interface Exchange {
  /** The caller went away: the bridge is told to end the exchange (its requests are cancelled). */
  cancel(): void;
}

/** Channels to the runtimes' bridges, one per bridge address and token. */
export interface BridgeChannels {
  exchange(target: ChannelTarget, request: ChannelRequest, handlers: ExchangeHandlers): Exchange;
  close(): void;
}

/** Options of createBridgeChannels. */
export interface BridgeChannelsOptions {
  /** How long opening a channel may take (default 5 s). */
  connectTimeoutMs?: number;
}

interface Stream {
  handlers: ExchangeHandlers;
  answered: boolean;
}

interface Channel {
  socket?: Socket;
  /** Frames written before the channel was open. */
  queued: Buffer[];
  streams: Map<number, Stream>;
  nextStream: number;
  closed: boolean;
}

const MAX_STREAM_ID = 0xffff_ffff;

/**
 * The gateway's side of the bridge channel (packages/platform/src/mcp/bridge-channel.ts): for each
 * runtime bridge one long-lived connection, opened on first use with the bridge's token (HTTP
 * Upgrade) and opened again on the first exchange after it closed (a restarted runtime). Every
 * exchange with that bridge is a stream on it: no HTTP request, header block or socket per call.
 * Exchanges sent before the channel is open wait for it; when it cannot be opened they fail in
 * the "connect" phase (nothing reached the bridge: safe to send again).
 */
export function createBridgeChannels(options: BridgeChannelsOptions = {}): BridgeChannels {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const channels = new Map<string, Channel>();

  const open = (key: string, target: ChannelTarget): Channel => {
    const channel: Channel = { queued: [], streams: new Map(), nextStream: 1, closed: false };
    channels.set(key, channel);
    const shut = (code: string) => {
      if (channel.closed) return;
      channel.closed = true;
      if (channels.get(key) === channel) channels.delete(key);
      channel.socket?.destroy();
      const opened = channel.socket !== undefined;
      for (const stream of channel.streams.values()) {
        const phase = !opened ? "connect" : stream.answered ? "response" : "request";
        stream.handlers.failed(code, phase);
      }
      channel.streams.clear();
      channel.queued.length = 0;
    };
    const upgrade = http.request({
      hostname: target.hostname,
      port: target.port,
      path: BRIDGE_CHANNEL_PATH,
      method: "GET",
      agent: false,
      headers: {
        connection: "Upgrade",
        upgrade: BRIDGE_CHANNEL_PROTOCOL,
        authorization: target.authorization,
      },
    });
    const timer = setTimeout(() => {
      upgrade.destroy();
      shut("ETIMEDOUT");
    }, connectTimeoutMs);
    upgrade.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      shut(error.code ?? "UNKNOWN");
    });
    // Anything but a 101: a wrong token (a runtime with another key) or not a bridge at all.
    upgrade.once("response", (answer) => {
      clearTimeout(timer);
      answer.resume();
      shut(`HTTP_${answer.statusCode}`);
    });
    upgrade.once("upgrade", (_answer, socket: Socket, first: Buffer) => {
      clearTimeout(timer);
      if (channel.closed) return void socket.destroy();
      channel.socket = socket;
      socket.setNoDelay(true);
      const read = createFrameReader((type, id, payload) => {
        const stream = channel.streams.get(id);
        if (!stream) return; // cancelled by this side already
        if (type === FrameType.head) {
          stream.answered = true;
          stream.handlers.head(decodeHead(payload));
        } else if (type === FrameType.data) {
          stream.handlers.data(payload);
        } else if (type === FrameType.end) {
          channel.streams.delete(id);
          stream.handlers.end();
        } else if (type === FrameType.reset) {
          channel.streams.delete(id);
          stream.handlers.failed("ERESET", stream.answered ? "response" : "request");
        } else throw new Error(`unexpected channel frame type ${type}`);
      });
      socket.on("data", (chunk: Buffer) => {
        try {
          read(chunk);
        } catch {
          shut("EPROTO");
        }
      });
      socket.once("close", () => shut("ECONNRESET"));
      socket.on("error", () => shut("ECONNRESET"));
      if (channel.queued.length > 0) socket.write(Buffer.concat(channel.queued.splice(0)));
      if (first.length > 0) socket.emit("data", first);
    });
    upgrade.end();
    return channel;
  };

  const write = (channel: Channel, frame: Buffer) => {
    if (channel.closed) return;
    if (channel.socket) channel.socket.write(frame);
    else channel.queued.push(frame);
  };

  return {
    exchange(target, request, handlers) {
      const key = `${target.hostname} ${target.port} ${target.authorization}`;
      const found = channels.get(key);
      const channel = found && !found.closed ? found : open(key, target);
      const id = channel.nextStream;
      channel.nextStream = id === MAX_STREAM_ID ? 1 : id + 1;
      channel.streams.set(id, { handlers, answered: false });
      write(channel, encodeOpen(id, request));
      return {
        cancel() {
          if (channel.streams.delete(id)) write(channel, encodeFrame(FrameType.reset, id));
        },
      };
    },
    close() {
      for (const channel of channels.values()) {
        channel.closed = true;
        channel.socket?.destroy();
      }
      channels.clear();
    },
  };
}
