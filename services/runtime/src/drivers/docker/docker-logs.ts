import type { Readable } from "node:stream";
import type { LogLine } from "../types.js";

const HEADER = 8;

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers, Tty false) with timestamps into
 * lines. Works on a follow stream or on the single buffer of a non-follow call.
 */
export async function* logLines(source: Readable | Buffer): AsyncGenerator<LogLine> {
  let pending = Buffer.alloc(0);
  const partial = { stdout: "", stderr: "" };
  const chunks: AsyncIterable<Buffer> | Iterable<Buffer> = Buffer.isBuffer(source)
    ? [source]
    : source;
  for await (const chunk of chunks) {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER + size) break;
      const stream = pending[0] === 2 ? "stderr" : "stdout";
      const text = partial[stream] + pending.subarray(HEADER, HEADER + size).toString("utf8");
      pending = pending.subarray(HEADER + size);
      const lines = text.split("\n");
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) yield parseLine(line, stream);
    }
  }
  for (const stream of ["stdout", "stderr"] as const) {
    if (partial[stream]) yield parseLine(partial[stream], stream);
  }
}

/**
 * One line with its RFC 3339 timestamp prefix (timestamps: true) split off; Kubernetes logs
 * carry the same prefix, so its driver reads them with this too.
 */
export function parseLine(raw: string, stream: "stdout" | "stderr"): LogLine {
  const space = raw.indexOf(" ");
  const time = space > 0 ? new Date(raw.slice(0, space)) : undefined;
  if (time && !Number.isNaN(time.getTime())) {
    return { line: raw.slice(space + 1).replace(/\r$/, ""), stream, time };
  }
  return { line: raw.replace(/\r$/, ""), stream };
}
