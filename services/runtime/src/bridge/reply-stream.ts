/**
 * What the bridge writes an answer to: the part of Node's ServerResponse it uses, so that an
 * exchange that arrived over HTTP and one that arrived over the gateway's channel
 * (channel-server.ts) are answered by the same code. `headersSent` is true once a head was set
 * (writeHead), as on a ServerResponse.
 */
export interface ReplyStream {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Record<string, string>): ReplyStream;
  write(chunk: string): unknown;
  end(chunk?: string): unknown;
  /** Sends the head now (an event stream's, before its first event). */
  flushHeaders(): void;
  /** Cuts the answer short. */
  destroy(): void;
  /** Ended, cut short, or its caller went away. */
  once(event: "close", listener: () => void): unknown;
}
