import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import type { Metadata, ServerUnaryCall } from "@grpc/grpc-js";

/** The part of a grpc-js server call every kind of call has. */
type ServerSurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, "metadata" | "getDeadline" | "on">;

/** Copies the text entries of gRPC metadata into fetch-style Headers. */
export function metadataToHeaders(metadata: Metadata): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === "string") headers.set(key, value);
  }
  return headers;
}

/** Milliseconds until the call's deadline, if the client set one. */
function remainingMs(call: ServerSurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) && at > 0 ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * The connect HandlerContext of a grpc-js call, so one ServiceImpl can be served by grpc-js here
 * and by connect-node elsewhere; the signal aborts when the client cancels or the deadline passes.
 */
export function createCallContext(
  service: DescService,
  method: DescMethod,
  call: ServerSurfaceCall,
): HandlerContext {
  const controller = new AbortController();
  call.on("cancelled", () => controller.abort(new Error("cancelled by client")));
  const timeoutMs = remainingMs(call);
  return createHandlerContext({
    service,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `/${service.typeName}/${method.name}`,
    requestHeader: metadataToHeaders(call.metadata),
    requestSignal: controller.signal,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}
