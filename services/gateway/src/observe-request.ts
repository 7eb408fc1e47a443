import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  CORRELATION_HEADER,
  currentCorrelationId,
  extractTraceContext,
  type Logger,
  tracingExports,
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
 * When no exporter takes spans, no span is made (the caller's trace context still flows on
 * upstream), and the access line, whose fields are fixed and hold no secret, skips redaction:
 * every MCP call crosses this, so it does only what someone reads. An MCP exchange that went
 * well is logged at debug level only: the audit trail already records each call (who, which
 * instance, method, tool, outcome, duration), and a line per call on the hot path is a write per
 * call; refused and failed ones keep their line.
 */
export function observeRequests(
  logger: Logger,
  handle: (req: AnyRequest, res: AnyResponse) => void,
): (req: AnyRequest, res: AnyResponse) => void {
  const access = logger.child({}, { redact: [] });
  return (req, res) => {
    withCorrelationId(correlationIdOf(req), () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const started = performance.now();
      res.setHeader(CORRELATION_HEADER, currentCorrelationId() ?? "");
      const traceparent = req.headers.traceparent;
      const tracestate = req.headers.tracestate;
      const carrier: Record<string, string> = {};
      if (typeof traceparent === "string") carrier.traceparent = traceparent;
      if (typeof tracestate === "string") carrier.tracestate = tracestate;
      const parent = traceparent === undefined ? context.active() : extractTraceContext(carrier);
      const span = tracingExports()
        ? tracer.startSpan(
            `${req.method} ${path}`,
            {
              kind: SpanKind.SERVER,
              attributes: { "http.request.method": req.method ?? "", "url.path": path },
            },
            parent,
          )
        : undefined;
      res.once("close", () => {
        if (span) {
          span.setAttribute("http.response.status_code", res.statusCode);
          if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
        const quiet = res.statusCode < 400 && path.startsWith("/mcp/");
        if (quiet && !access.isLevelEnabled("debug")) return;
        (quiet ? access.debug : access.info).call(
          access,
          {
            method: req.method,
            path,
            status: res.statusCode,
            duration_ms: Math.round(performance.now() - started),
          },
          "request",
        );
      });
      const scope = span ? trace.setSpan(parent, span) : parent;
      if (scope === context.active()) handle(req, res);
      else context.with(scope, () => handle(req, res));
    });
  };
}
