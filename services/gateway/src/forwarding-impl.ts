import { http } from "@berth/proto/gen/google/api/annotations_pb";
import { type DescMethod, type DescService, hasOption } from "@bufbuild/protobuf";
import type { Client, HandlerContext } from "@connectrpc/connect";
import { fromUpstream } from "./upstream-error.js";

type AnyMethod = (request: unknown, options: object) => unknown;
type AnyImpl = (request: unknown, ctx: HandlerContext) => unknown;

/** Upper bound of a forwarded stream whose caller set no deadline. */
const STREAM_TIMEOUT_MS = 24 * 60 * 60 * 1000;

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

/**
 * An implementation of a public service that forwards every public method to the internal
 * service over gRPC, generically: no per-route code. Public means annotated with google.api.http;
 * the others (such as RuntimeService.ResolveEndpoint, whose answer holds credentials) are internal
 * and answer UNIMPLEMENTED at the gateway. Errors keep their code, message and details, without
 * the upstream call's transport metadata; an upstream that is down or lost mid-call is
 * UNAVAILABLE naming `label` ("the instances service is unavailable"): see fromUpstream.
 */
export function createForwardingImpl<S extends DescService>(
  service: S,
  client: Client<S>,
  label: string,
): object {
  const methods = client as unknown as Record<string, AnyMethod>;
  const impl: Record<string, AnyImpl> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (call && hasOption(method, http)) impl[method.localName] = forward(method, call, label);
  }
  return impl;
}

/** The one wrapping of a client method: call options in, upstream errors mapped out. */
function forward(method: DescMethod, call: AnyMethod, label: string): AnyImpl {
  const failed = (error: unknown, ctx: HandlerContext) =>
    fromUpstream(error, label, ctx.signal.aborted);
  if (method.methodKind === "server_streaming") {
    return async function* (request, ctx) {
      try {
        yield* call(request, callOptions(ctx, true)) as AsyncIterable<unknown>;
      } catch (error) {
        throw failed(error, ctx);
      }
    };
  }
  return async (request, ctx) => {
    try {
      return await call(request, callOptions(ctx, false));
    } catch (error) {
      throw failed(error, ctx);
    }
  };
}
