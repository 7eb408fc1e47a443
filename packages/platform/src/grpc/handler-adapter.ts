import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  ACTOR_HEADER,
  actorOf,
  CORRELATION_HEADER,
  withActor,
  withCorrelationId,
} from "../context/request-context.js";
import { statusDetailsBin, toConnectError } from "../errors/status.js";
import type { Logger } from "../logging/logger.js";
import { extractTraceContext } from "../tracing/propagation.js";
import { tracingExports } from "../tracing/start-tracing.js";
import { createCallContext } from "./call-context.js";

const tracer = trace.getTracer("berth-grpc");

type AnyHandler = (request: unknown, context: HandlerContext) => unknown;

/** A grpc-js ServiceError for any failure, with google.rpc.Status details attached. */
function toServiceError(error: unknown): ServiceError {
  const connectError = toConnectError(error);
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", statusDetailsBin(connectError));
  return Object.assign(new Error(connectError.rawMessage), {
    code: connectError.code as number,
    details: connectError.rawMessage,
    metadata,
  });
}

/**
 * Runs one call inside its server span and correlation scope, then logs its outcome.
 * Internal errors are logged with their cause; callers see only the mapped status.
 */
async function observe<T>(
  logger: Logger,
  service: DescService,
  method: DescMethod,
  ctx: HandlerContext,
  run: () => Promise<T>,
): Promise<T> {
  const header = ctx.requestHeader;
  const traceparent = header.get("traceparent");
  const carrier: Record<string, string> = {};
  if (traceparent !== null) {
    // What the registered propagators (W3C trace context and baggage) read.
    carrier.traceparent = traceparent;
    for (const key of ["tracestate", "baggage"]) {
      const value = header.get(key);
      if (value !== null) carrier[key] = value;
    }
  }
  const parent = traceparent === null ? context.active() : extractTraceContext(carrier);
  const name = `${service.typeName}/${method.name}`;
  const actor = actorOf(header.get(ACTOR_HEADER));
  // Without an exporter no span is made: the caller's trace context is the call's context, so
  // logs and further calls still carry its trace id.
  const inSpan = <R>(body: (span: Span | undefined) => Promise<R>): Promise<R> =>
    tracingExports()
      ? tracer.startActiveSpan(
          name,
          { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc" } },
          parent,
          body,
        )
      : parent === context.active()
        ? body(undefined)
        : context.with(parent, () => body(undefined));
  return withCorrelationId(header.get(CORRELATION_HEADER) ?? undefined, () =>
    withActor(actor, () =>
      inSpan(async (span) => {
        const started = performance.now();
        try {
          const result = await run();
          if (logger.isLevelEnabled("debug")) {
            logger.debug(
              { rpc: name, code: "OK", duration_ms: Math.round(performance.now() - started) },
              "rpc",
            );
          }
          return result;
        } catch (error) {
          const mapped = toConnectError(error);
          span?.setStatus({ code: SpanStatusCode.ERROR, message: mapped.rawMessage });
          const level = mapped.code === 13 || mapped.code === 2 ? "error" : "info";
          logger[level](
            {
              rpc: name,
              code: mapped.code,
              duration_ms: Math.round(performance.now() - started),
              err: level === "error" ? error : undefined,
            },
            mapped.rawMessage,
          );
          throw mapped;
        } finally {
          span?.end();
        }
      }),
    ),
  );
}

/** The grpc-js handler for one method of a connect-style ServiceImpl. */
export function adaptMethod(
  logger: Logger,
  service: DescService,
  method: DescMethod,
  impl: AnyHandler,
): UntypedHandleCall {
  if (method.methodKind === "unary") {
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const ctx = createCallContext(service, method, call);
      observe(logger, service, method, ctx, async () => impl(call.request, ctx)).then(
        (response) => callback(null, response),
        (error) => callback(toServiceError(error)),
      );
    };
  }
  if (method.methodKind === "server_streaming") {
    return (call: ServerWritableStream<unknown, unknown>) => {
      const ctx = createCallContext(service, method, call);
      observe(logger, service, method, ctx, async () => {
        for await (const message of impl(call.request, ctx) as AsyncIterable<unknown>) {
          if (ctx.signal.aborted) break;
          if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
        }
      }).then(
        () => call.end(),
        (error) => call.emit("error", toServiceError(error)),
      );
    };
  }
  throw new Error(
    `${service.typeName}/${method.name}: ${method.methodKind} methods are not served`,
  );
}
