import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

/** Options of startTracing. */
export interface TracingOptions {
  serviceName: string;
  /** Send spans over OTLP/HTTP to this endpoint (OTEL_EXPORTER_OTLP_ENDPOINT). */
  otlpEndpoint?: string | undefined;
  /** Keep spans here synchronously (tests use an InMemorySpanExporter). */
  exporter?: SpanExporter;
}

/** A started tracer provider. */
export interface Tracing {
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

let started: Tracing | undefined;
let exporting = false;

/**
 * Whether spans go anywhere (an exporter was given). Hot paths skip making spans when they do
 * not: a span nobody exports costs its allocation and context switching on every call.
 */
export function tracingExports(): boolean {
  return exporting;
}

/**
 * Starts OpenTelemetry: W3C trace context propagation, an AsyncLocalStorage context manager and,
 * when spans go somewhere, SQL spans from the pg driver. Call it before the service's modules are
 * imported, so the pg driver is patched when MikroORM first loads it. Without an exporter tracing
 * costs (almost) nothing: spans are never recorded (AlwaysOffSampler: a span is only its ids, so a
 * caller's trace id still reaches logs and the next service) and pg is not instrumented.
 */
export function startTracing(options: TracingOptions): Tracing {
  if (started) return started;
  const spanProcessors: SpanProcessor[] = [];
  if (options.exporter) spanProcessors.push(new SimpleSpanProcessor(options.exporter));
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/$/, "")}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  exporting = spanProcessors.length > 0;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors,
    ...(exporting ? {} : { sampler: new AlwaysOffSampler() }),
  });
  provider.register();
  const unregister = exporting
    ? registerInstrumentations({
        tracerProvider: provider,
        instrumentations: [
          new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
        ],
      })
    : () => undefined;
  started = {
    async shutdown() {
      unregister();
      exporting = false;
      await provider.shutdown();
      trace.disable();
      started = undefined;
    },
  };
  return started;
}
