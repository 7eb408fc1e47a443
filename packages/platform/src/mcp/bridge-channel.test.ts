import { describe, expect, it } from "vitest";
import {
  createFrameReader,
  decodeHead,
  decodeOpen,
  encodeFrame,
  encodeHead,
  encodeOpen,
  FrameType,
  splitBridgeChannel,
} from "./bridge-channel.js";

describe("bridge channel frames", () => {
  const frames = Buffer.concat([
    encodeOpen(1, {
      method: "POST",
      path: "/instances/a/mcp",
      headers: { "mcp-session-id": "s.1" },
      body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"é":"✓"}}'),
    }),
    encodeHead(1, { status: 200, headers: { "content-type": "text/event-stream" } }),
    encodeFrame(FrameType.data, 1, "event: message\ndata: {}\n\n"),
    encodeFrame(FrameType.end, 1),
    encodeFrame(FrameType.reset, 4_000_000_000),
  ]);

  const read = (chunks: Buffer[]) => {
    const seen: Array<[number, number, string]> = [];
    const reader = createFrameReader((type, stream, payload) =>
      seen.push([type, stream, payload.toString("base64")]),
    );
    for (const chunk of chunks) reader(chunk);
    return seen;
  };

  it("reads the same frames however the bytes are split", () => {
    const whole = read([frames]);
    expect(whole.map(([type, stream]) => [type, stream])).toEqual([
      [FrameType.open, 1],
      [FrameType.head, 1],
      [FrameType.data, 1],
      [FrameType.end, 1],
      [FrameType.reset, 4_000_000_000],
    ]);
    const bytes = [...frames].map((b) => Buffer.from([b]));
    expect(read(bytes)).toEqual(whole);
    expect(read([frames.subarray(0, 7), frames.subarray(7, 50), frames.subarray(50)])).toEqual(
      whole,
    );

    const open = decodeOpen(Buffer.from(whole[0]![2], "base64"));
    expect(open).toMatchObject({ method: "POST", path: "/instances/a/mcp" });
    expect(JSON.parse(open.body.toString()).params).toEqual({ é: "✓" });
    expect(decodeHead(Buffer.from(whole[1]![2], "base64"))).toEqual({
      status: 200,
      headers: { "content-type": "text/event-stream" },
    });
  });

  it("refuses a frame that announces an impossible size", () => {
    const reader = createFrameReader(() => undefined);
    const bad = Buffer.alloc(9);
    bad.writeUInt32BE(0xffff_fff0, 0);
    expect(() => reader(bad)).toThrow(/bad channel frame size/);
    expect(() => decodeHead(Buffer.from('{"s":"200"}'))).toThrow(/malformed/);
  });

  it("takes the channel mark out of an endpoint's headers", () => {
    expect(
      splitBridgeChannel({ authorization: "Bearer t", "x-berth-bridge-channel": "1" }),
    ).toEqual({
      headers: { authorization: "Bearer t" },
      channel: true,
    });
    expect(splitBridgeChannel({ a: "b" })).toEqual({ headers: { a: "b" }, channel: false });
  });
});
