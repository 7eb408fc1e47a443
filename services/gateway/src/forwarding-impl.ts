import type { DescService } from "@bufbuild/protobuf";
import type { Client, HandlerContext } from "@connectrpc/connect";

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
 * An implementation of a public service that forwards every method to the internal service
 * over gRPC, generically: no per-route code. Errors pass through as they are (ConnectError).
 */
export function createForwardingImpl<S extends DescService>(service: S, client: Client<S>): object {
  const methods = client as unknown as Record<string, AnyMethod>;
  const impl: Record<string, (request: unknown, ctx: HandlerContext) => unknown> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (!call) continue;
    impl[method.localName] = (request, ctx) => call(request, callOptions(ctx));
  }
  return impl;
}
