import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  BRIDGE_CHANNEL_PROTOCOL,
  type ChannelHead,
  createFrameReader,
  decodeOpen,
  encodeFrame,
  encodeHead,
  FrameType,
} from "@berth/platform";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChannelTarget,
  createBridgeChannels,
  type ExchangeHandlers,
} from "./bridge-channel.js";

const TOKEN = "Bearer right";

/**
 * A stand-in bridge speaking the channel's frames: it answers each OPEN with a head echoing the
 * request's path and method, then its body back, and records resets and channels opened.
 */
async function fakeBridge(options: { holdPaths?: string[] } = {}) {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const sockets: Socket[] = [];
  const resets: number[] = [];
  const held = new Map<number, Socket>();
  server.on("upgrade", (req, socket: Socket) => {
    if (req.headers.authorization !== TOKEN || req.headers.upgrade !== BRIDGE_CHANNEL_PROTOCOL) {
      return void socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
    }
    sockets.push(socket);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${BRIDGE_CHANNEL_PROTOCOL}\r\n\r\n`,
    );
    socket.on(
      "data",
      createFrameReader((type, stream, payload) => {
        if (type === FrameType.reset) return void resets.push(stream);
        const request = decodeOpen(payload);
        if (options.holdPaths?.includes(request.path)) return void held.set(stream, socket);
        socket.write(
          Buffer.concat([
            encodeHead(stream, { status: 200, headers: { "x-path": request.path } }),
            encodeFrame(FrameType.data, stream, request.body),
            encodeFrame(FrameType.end, stream),
          ]),
        );
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = String((server.address() as AddressInfo).port);
  return {
    port,
    sockets,
    resets,
    held,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An exchange's outcome, collected. */
function collect() {
  let settle: (value: { head?: ChannelHead; body: string; failed?: string }) => void;
  const done = new Promise<{ head?: ChannelHead; body: string; failed?: string }>(
    (resolve) => (settle = resolve),
  );
  let head: ChannelHead | undefined;
  let body = "";
  const handlers: ExchangeHandlers = {
    head: (h) => (head = h),
    data: (chunk) => (body += chunk.toString()),
    end: () => settle({ ...(head ? { head } : {}), body }),
    failed: (code, phase) => settle({ body, failed: `${code} ${phase}` }),
  };
  return { handlers, done };
}

const request = (path: string, body = "") => ({
  method: "POST",
  path,
  headers: { accept: "application/json" },
  body: Buffer.from(body),
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("the gateway's channels to runtime bridges", () => {
  it("carries many exchanges on one connection opened with the bridge's token", async () => {
    const bridge = await fakeBridge();
    cleanups.push(bridge.close);
    const channels = createBridgeChannels();
    cleanups.push(() => channels.close());
    const target: ChannelTarget = {
      hostname: "127.0.0.1",
      port: bridge.port,
      authorization: TOKEN,
    };
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const { handlers, done } = collect();
        channels.exchange(target, request(`/p/${i}`, `body ${i}`), handlers);
        return done;
      }),
    );
    answers.forEach((answer, i) => {
      expect(answer).toEqual({
        head: { status: 200, headers: { "x-path": `/p/${i}` } },
        body: `body ${i}`,
      });
    });
    expect(bridge.sockets).toHaveLength(1);
  });

  it("fails an exchange in the connect phase when the channel cannot be opened", async () => {
    const bridge = await fakeBridge();
    cleanups.push(bridge.close);
    const channels = createBridgeChannels();
    cleanups.push(() => channels.close());
    const wrong = collect();
    channels.exchange(
      { hostname: "127.0.0.1", port: bridge.port, authorization: "Bearer wrong" },
      request("/x"),
      wrong.handlers,
    );
    expect((await wrong.done).failed).toBe("HTTP_401 connect");
    await bridge.close();
    const gone = collect();
    channels.exchange(
      { hostname: "127.0.0.1", port: bridge.port, authorization: TOKEN },
      request("/x"),
      gone.handlers,
    );
    expect((await gone.done).failed).toBe("ECONNREFUSED connect");
  });

  it("fails what was in flight when the bridge goes away, opens a new channel for what follows, and resets cancelled exchanges", async () => {
    const bridge = await fakeBridge({ holdPaths: ["/held", "/cancelled"] });
    cleanups.push(bridge.close);
    const channels = createBridgeChannels();
    cleanups.push(() => channels.close());
    const target: ChannelTarget = {
      hostname: "127.0.0.1",
      port: bridge.port,
      authorization: TOKEN,
    };

    const cancelled = collect();
    const exchange = channels.exchange(target, request("/cancelled"), cancelled.handlers);
    const held = collect();
    channels.exchange(target, request("/held"), held.handlers);
    for (let i = 0; bridge.held.size < 2 && i < 200; i++)
      await new Promise((r) => setTimeout(r, 10));
    exchange.cancel();
    for (let i = 0; bridge.resets.length === 0 && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(bridge.resets).toEqual([...bridge.held.keys()].slice(0, 1));

    bridge.sockets[0]!.destroy();
    expect((await held.done).failed).toBe("ECONNRESET request");

    const after = collect();
    channels.exchange(target, request("/after", "again"), after.handlers);
    expect((await after.done).body).toBe("again");
    expect(bridge.sockets).toHaveLength(2);
  });
});
