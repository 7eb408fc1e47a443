import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

const PARSE_BINARY = "parse binary:";
const MAX_ERROR_BYTES = 64 * 1024;

/**
 * connect-es reports a request body that is not valid protobuf binary as INTERNAL (HTTP 500), as
 * grpc-go does; it is the caller's mistake. Rewrites those answers of the Connect protocol to
 * INVALID_ARGUMENT (HTTP 400) by wrapping the router's handlers in place (call it from `routes`).
 */
export function reportParseErrorsAsInvalid(handlers: UniversalHandler[]): void {
  handlers.forEach((handler, i) => {
    const wrapped = async (request: Parameters<UniversalHandler>[0]) =>
      rewrite(await handler(request));
    handlers[i] = Object.assign(wrapped, handler);
  });
}

async function rewrite(response: UniversalServerResponse): Promise<UniversalServerResponse> {
  // Only a unary Connect error is a 500 with a small JSON body; gRPC answers 200 with trailers.
  if (response.status !== 500 || !response.body) return response;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_ERROR_BYTES) break;
  }
  const bytes = Buffer.concat(chunks);
  let error: { code?: unknown; message?: unknown } = {};
  try {
    error = JSON.parse(bytes.toString("utf8")) as typeof error;
  } catch {
    // Not a Connect error body: passed on unchanged below.
  }
  const isParseError = error.code === "internal" && String(error.message).startsWith(PARSE_BINARY);
  if (!isParseError) return { ...response, body: once(bytes) };
  const body = {
    code: "invalid_argument",
    message: "the request body is not a valid protobuf message",
  };
  const header = new Headers(response.header);
  header.delete("content-length");
  return { ...response, status: 400, header, body: once(Buffer.from(JSON.stringify(body))) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
