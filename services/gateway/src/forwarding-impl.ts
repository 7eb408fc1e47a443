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
function callOptions(ctx: HandlerContext) {
  const timeoutMs = ctx.timeoutMs();
  return { signal: ctx.signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
}

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
              yield* call(request, callOptions(ctx)) as AsyncIterable<unknown>;
            } catch (error) {
              throw fromUpstream(error, name);
            }
          }
        : async (request, ctx) => {
            try {
              return await call(request, callOptions(ctx));
            } catch (error) {
              throw fromUpstream(error, name);
            }
          };
  }
  return impl;
}
