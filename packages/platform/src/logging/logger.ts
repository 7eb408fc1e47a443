import { trace } from "@opentelemetry/api";
import { type Logger, type LoggerOptions, pino } from "pino";
import { currentCorrelationId } from "../context/request-context.js";

export type { Logger } from "pino";

/** Paths pino replaces with [redacted]: anything that can hold a credential or a secret value. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "secrets",
  "*.secrets",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["x-api-key"]',
  "value",
  "*.value",
  "values",
  "*.values",
];

/** Options of createLogger. */
export interface CreateLoggerOptions {
  /** The service name written on every line. */
  service: string;
  level?: string;
  /** Where lines go; stdout when absent (tests pass a stream to read them back). */
  destination?: NodeJS.WritableStream;
}

/** Creates the pino logger of a service: service name, correlation id and trace ids on every line. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    level: options.level ?? "info",
    base: { service: options.service },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const fields: Record<string, string> = {};
      const correlationId = currentCorrelationId();
      if (correlationId) fields.correlation_id = correlationId;
      const span = trace.getActiveSpan()?.spanContext();
      if (span && span.traceId !== "00000000000000000000000000000000") {
        fields.trace_id = span.traceId;
        fields.span_id = span.spanId;
      }
      return fields;
    },
  };
  return options.destination
    ? pino(config, options.destination as pino.DestinationStream)
    : pino(config);
}
