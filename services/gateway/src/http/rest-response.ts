import { Code, ConnectError, type Logger } from "@berth/platform";
import type { Message, Registry } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { restErrorBody } from "./rest-errors.js";
import { responseJson } from "./transcode.js";
import type { HttpResponse, Route } from "./types.js";

// Response headers an implementation (or a forwarded upstream) may set that would corrupt REST framing.
const UNSAFE_HEADER =
  /^(content-type|content-length|content-encoding|connection|keep-alive|transfer-encoding|trailer|upgrade|grpc-.*|:.*)$/i;

/** Writes the one response of a unary call as JSON (the whole message or its response_body field). */
export async function writeUnary(
  res: HttpResponse,
  route: Route,
  context: HandlerContext,
  outputs: AsyncIterable<Message>,
  registry: Registry,
): Promise<void> {
  let response: Message | undefined;
  for await (const output of outputs) response = output;
  if (!response) throw new ConnectError("the call returned no response", Code.Internal);
  const body = JSON.stringify(responseJson(route, response, registry));
  writeHead(res, context, "application/json");
  res.end(body);
}

/**
 * Writes a server stream as newline-delimited JSON over chunked transfer. An error before the
 * first message is an ordinary error response (thrown); after it, a last line `{"error":{...}}`.
 */
export async function writeStream(
  res: HttpResponse,
  route: Route,
  context: HandlerContext,
  outputs: AsyncIterable<Message>,
  registry: Registry,
  logger: Logger,
): Promise<void> {
  const iterator = outputs[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done || context.signal.aborted) break;
      if (!res.headersSent) writeHead(res, context, "application/x-ndjson");
      const line = `${JSON.stringify(responseJson(route, next.value, registry))}\n`;
      // Back-pressure: a slow reader slows the stream instead of growing a buffer.
      if (!(res as NodeJS.WritableStream).write(line)) await drained(res);
    }
    if (!res.headersSent) writeHead(res, context, "application/x-ndjson");
    res.end();
  } catch (error) {
    if (!res.headersSent) throw error;
    const { status, body } = restErrorBody(error, registry);
    if (status >= 500) logger.error({ err: error }, "REST stream failed");
    res.end(`${JSON.stringify(body)}\n`);
  } finally {
    await iterator.return?.();
  }
}

function writeHead(res: HttpResponse, context: HandlerContext, contentType: string): void {
  res.statusCode = 200;
  context.responseHeader.forEach((value, name) => {
    if (!UNSAFE_HEADER.test(name)) res.setHeader(name, value);
  });
  res.setHeader("content-type", contentType);
}

function drained(res: HttpResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}
