import type { Logger } from "@berth/platform";
import { fromBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import {
  createAsyncIterable,
  readAllBytes,
  type UniversalHandler,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { HttpRequest, HttpResponse } from "./types.js";

/** Options of createRpcHandler. */
export interface RpcHandlerOptions {
  /** Registers the services. */
  routes(router: ConnectRouter): void;
  interceptors?: Interceptor[];
  /** Aborts every call in flight (a server that stops cutting its connections). */
  shutdownSignal?: AbortSignal;
  /** Largest request message. */
  readMaxBytes: number;
  /** Values an interceptor may read from the call (the client's address). */
  contextValues?: (req: HttpRequest) => ContextValues;
  logger: Logger;
}

/** Connect, gRPC-Web and gRPC for the registered services, at `/<package.Service>/<Method>`. */
export interface RpcHandler {
  /** Whether the path is one of the registered methods. */
  serves(path: string): boolean;
  handle(req: HttpRequest, res: HttpResponse): void;
}

/**
 * The Connect router served to Node requests, as connect-node's adapter does, with one thing
 * more: a unary Connect request in protobuf binary is checked before it is handed on (connect
 * reports a body that does not decode as INTERNAL, like grpc-go; it is the caller's mistake, so
 * it is 400 INVALID_ARGUMENT here). The body is read once and the bytes handed to the handler.
 */
export function createRpcHandler(options: RpcHandlerOptions): RpcHandler {
  const router = createConnectRouter({
    interceptors: options.interceptors ?? [],
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: options.readMaxBytes,
    ...(options.shutdownSignal ? { shutdownSignal: options.shutdownSignal } : {}),
  });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, handler);

  return {
    serves: (path) => paths.has(path),
    handle(req, res) {
      const path = (req.url ?? "").split("?", 1)[0] ?? "";
      const handler = paths.get(path);
      if (!handler) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const request = universalRequestFromNodeRequest(
        req,
        res,
        undefined,
        options.contextValues?.(req),
      );
      serve(handler, request, options.readMaxBytes)
        .then((response) => universalResponseToNodeResponse(response, res))
        .catch((error: unknown) => {
          // A client that hung up mid-stream (a closed Watch or log follow) is routine, not a
          // fault worth a warning on every browser tab closed.
          const clientGone = res.destroyed || req.destroyed;
          options.logger[clientGone ? "debug" : "warn"](
            { err: error, rpc: path },
            clientGone ? "RPC client went away" : "RPC response failed",
          );
          res.destroy();
        });
    },
  };
}

async function serve(
  handler: UniversalHandler,
  request: UniversalServerRequest,
  readMaxBytes: number,
): Promise<UniversalServerResponse> {
  if (!isConnectUnaryBinary(request) || !(Symbol.asyncIterator in Object(request.body))) {
    return handler(request);
  }
  const body = request.body as AsyncIterable<Uint8Array>;
  let bytes: Uint8Array;
  try {
    bytes = await readAllBytes(body, readMaxBytes, request.header.get("content-length"));
  } catch (error) {
    return connectError(ConnectError.from(error)); // Too large, or cut short.
  }
  try {
    fromBinary(handler.method.input, bytes);
  } catch {
    const message = "the request body is not a valid protobuf message";
    return connectError(new ConnectError(message, Code.InvalidArgument));
  }
  return handler({ ...request, body: createAsyncIterable([bytes]) });
}

/** A Connect unary error response (the protocol's JSON error body). */
function connectError(error: ConnectError): UniversalServerResponse {
  return {
    status: codeToHttpStatus(error.code),
    header: new Headers({ "content-type": "application/json" }),
    body: createAsyncIterable([errorToJsonBytes(error, {})]),
  };
}

/** A Connect unary POST in protobuf binary, not compressed (compressed ones are left to connect). */
function isConnectUnaryBinary(request: UniversalServerRequest): boolean {
  const type = request.header.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  return (
    request.method === "POST" &&
    type === "application/proto" &&
    !request.header.has("content-encoding")
  );
}
