import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  CORRELATION_HEADER,
  currentCorrelationId,
  extractTraceContext,
  type Logger,
  withCorrelationId,
} from "@berth/platform";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

/** A request as the http/1.1 and the http/2 compatibility servers give it. */
export type AnyRequest = IncomingMessage | Http2ServerRequest;
/** A response of either server. */
export type AnyResponse = ServerResponse | Http2ServerResponse;

const tracer = trace.getTracer("berth-gateway");
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's correlation id when it is well-formed; a fresh one otherwise. */
function correlationIdOf(req: AnyRequest): string | undefined {
  const value = req.headers[CORRELATION_HEADER] ?? req.headers["x-request-id"];
  return typeof value === "string" && SAFE_ID.test(value) ? value : undefined;
}

/**
 * Wraps every request at the edge: a correlation id (echoed in the response), a SERVER span
 * continuing the caller's W3C trace context, and one access log line when the response ends.
 */
export function observeRequests(
  logger: Logger,
  handle: (req: AnyRequest, res: AnyResponse) => void,
): (req: AnyRequest, res: AnyResponse) => void {
  return (req, res) => {
    withCorrelationId(correlationIdOf(req), () => {
      const carrier: Record<string, string> = {};
      for (const key of ["traceparent", "tracestate"]) {
        const value = req.headers[key];
        if (typeof value === "string") carrier[key] = value;
      }
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const parent = extractTraceContext(carrier);
      const span = tracer.startSpan(
        `${req.method} ${path}`,
        {
          kind: SpanKind.SERVER,
          attributes: { "http.request.method": req.method ?? "", "url.path": path },
        },
        parent,
      );
      const started = performance.now();
      res.setHeader(CORRELATION_HEADER, currentCorrelationId() ?? "");
      res.once("close", () => {
        span.setAttribute("http.response.status_code", res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        logger.info(
          {
            method: req.method,
            path,
            status: res.statusCode,
            duration_ms: Math.round(performance.now() - started),
          },
          "request",
        );
      });
      context.with(trace.setSpan(parent, span), () => handle(req, res));
    });
  };
}
