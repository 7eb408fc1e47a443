import { StringDecoder } from "node:string_decoder";
import type { StdioChannel } from "../drivers/types.js";
import type { RpcMessage } from "./json-rpc.js";

/** Bound on one line from a server; a longer one is dropped rather than buffered forever. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Callbacks of readLines. */
export interface LineHandlers {
  message(message: RpcMessage): void;
  /** stdout ended: the server is gone. */
  end(): void;
  /** A line that is not JSON-RPC (counted, never logged: it may carry anything). */
  ignored?(bytes: number): void;
}

/** Reads newline-delimited JSON-RPC messages from a stdio server's stdout. */
export function readLines(channel: StdioChannel, handlers: LineHandlers): void {
  const decoder = new StringDecoder("utf8");
  let buffer = "";
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    handlers.end();
  };
  channel.stdout.on("data", (chunk: Buffer) => {
    buffer += decoder.write(chunk);
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) parse(line);
      newline = buffer.indexOf("\n");
    }
    if (buffer.length > MAX_LINE_BYTES) {
      handlers.ignored?.(buffer.length);
      buffer = "";
    }
  });
  channel.stdout.on("end", end);
  channel.stdout.on("close", end);
  channel.stdout.on("error", end);

  function parse(line: string): void {
    try {
      const message = JSON.parse(line) as RpcMessage;
      if (message && typeof message === "object" && message.jsonrpc === "2.0") {
        handlers.message(message);
        return;
      }
    } catch {
      // fall through: not JSON
    }
    handlers.ignored?.(line.length);
  }
}

/** Writes one JSON-RPC message as a line to a stdio server's stdin. */
export function writeLine(channel: StdioChannel, message: RpcMessage): void {
  if (channel.stdin.writable) channel.stdin.write(`${JSON.stringify(message)}\n`);
}
