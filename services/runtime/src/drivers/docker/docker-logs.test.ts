import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { logLines } from "./docker-logs.js";

const frame = (stream: 1 | 2, text: string) => {
  const body = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
};

describe("logLines", () => {
  it("splits multiplexed frames into timestamped lines, across chunk borders", async () => {
    const bytes = Buffer.concat([
      frame(2, "2026-01-01T00:00:00.000000001Z Starting\n2026-01-01T00:00:01Z par"),
      frame(2, "tial\n"),
      frame(1, '2026-01-01T00:00:02Z {"jsonrpc":"2.0"}\n'),
    ]);
    const chunks = [bytes.subarray(0, 5), bytes.subarray(5, 40), bytes.subarray(40)];
    const lines = [];
    for await (const line of logLines(Readable.from(chunks))) lines.push(line);
    expect(lines.map((l) => [l.stream, l.line])).toEqual([
      ["stderr", "Starting"],
      ["stderr", "partial"],
      ["stdout", '{"jsonrpc":"2.0"}'],
    ]);
    expect(lines[2]?.time?.toISOString()).toBe("2026-01-01T00:00:02.000Z");
  });

  it("reads the single buffer of a non-follow call", async () => {
    const lines = [];
    for await (const line of logLines(frame(1, "no timestamp here"))) lines.push(line);
    expect(lines).toEqual([{ line: "no timestamp here", stream: "stdout" }]);
  });
});
