import { http } from "@berth/proto/gen/google/api/annotations_pb";
import { type DescService, hasOption } from "@bufbuild/protobuf";
import type { Client, HandlerContext } from "@connectrpc/connect";
import { fromUpstream } from "./upstream-error.js";

type AnyMethod = (request: unknown, options: object) => unknown;

/**
 * Call options for the upstream call: the caller's cancellation and deadline. No caller header
 * is passed on (credentials stay at the edge); trace context and correlation id travel through
 * the active context, which the service client's interceptor writes into the call.
 */
function callOptions(ctx: HandlerContext, streaming: boolean) {
  // A stream (watch, logs) lives as long as its caller: without a caller deadline it must not
  // inherit the short default of service-to-service calls; the caller's disconnect ends it.
  const timeoutMs = ctx.timeoutMs() ?? (streaming ? STREAM_TIMEOUT_MS : undefined);
  return { signal: ctx.signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
}

/** Upper bound of a forwarded stream whose caller set no deadline. */
const STREAM_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * An implementation of a public service that forwards every public method to the internal
 * service over gRPC, generically: no per-route code. Public means annotated with google.api.http;
 * the others (such as RuntimeService.ResolveEndpoint, whose answer holds credentials) are internal
 * and answer UNIMPLEMENTED at the gateway. Errors keep their code, message and details, without
 * the upstream call's transport metadata (fromUpstream).
 */
export function createForwardingImpl<S extends DescService>(service: S, client: Client<S>): object {
  const methods = client as unknown as Record<string, AnyMethod>;
  const impl: Record<string, (request: unknown, ctx: HandlerContext) => unknown> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (!call || !hasOption(method, http)) continue;
    const name = service.name;
    impl[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* (request, ctx) {
            try {
              yield* call(request, callOptions(ctx, true)) as AsyncIterable<unknown>;
            } catch (error) {
              throw fromUpstream(error, name);
            }
          }
        : async (request, ctx) => {
            try {
              return await call(request, callOptions(ctx, false));
            } catch (error) {
              throw fromUpstream(error, name);
            }
          };
  }
  return impl;
}
