import { createRequire } from "node:module";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import type { SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-node";

// The SDK, the OTLP exporter and the pg instrumentation are loaded only when spans go somewhere:
// together they are megabytes of code every idle service would otherwise hold.
const require = createRequire(import.meta.url);

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
 * Starts OpenTelemetry: W3C trace context (and baggage) propagation, an AsyncLocalStorage context
 * manager and, when spans go somewhere, the SDK's tracer provider and SQL spans from the pg driver.
 * Call it before the service's modules are imported, so the pg driver is patched when MikroORM
 * first loads it. Without an exporter tracing costs (almost) nothing: no SDK is loaded, no span is
 * recorded (the API's no-op tracer: a span is its parent's context, so a caller's trace id still
 * reaches logs, events and the next service) and pg is not instrumented.
 */
export function startTracing(options: TracingOptions): Tracing {
  if (started) return started;
  const exporters: SpanExporter[] = options.exporter ? [options.exporter] : [];
  if (options.otlpEndpoint) {
    const { OTLPTraceExporter } =
      require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http");
    const url = `${options.otlpEndpoint.replace(/\/$/, "")}/v1/traces`;
    exporters.push(new OTLPTraceExporter({ url }));
  }
  exporting = exporters.length > 0;
  if (!exporting) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(
      new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      }),
    );
    started = {
      async shutdown() {
        context.disable();
        propagation.disable();
        started = undefined;
      },
    };
    return started;
  }
  const sdk =
    require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node");
  const { resourceFromAttributes } =
    require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
  const { ATTR_SERVICE_NAME } =
    require("@opentelemetry/semantic-conventions") as typeof import("@opentelemetry/semantic-conventions");
  const { registerInstrumentations } =
    require("@opentelemetry/instrumentation") as typeof import("@opentelemetry/instrumentation");
  const { PgInstrumentation } =
    require("@opentelemetry/instrumentation-pg") as typeof import("@opentelemetry/instrumentation-pg");
  // A test's in-memory exporter is written synchronously; OTLP in batches.
  const spanProcessors: SpanProcessor[] = exporters.map((exporter) =>
    exporter === options.exporter
      ? new sdk.SimpleSpanProcessor(exporter)
      : new sdk.BatchSpanProcessor(exporter),
  );
  const provider = new sdk.NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors,
  });
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  started = {
    async shutdown() {
      unregister();
      exporting = false;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      started = undefined;
    },
  };
  return started;
}
