import type {
  LogContext,
  LoggerNamespace,
  LoggerOptions,
  Logger as MikroLogger,
} from "@mikro-orm/core";
import type { Logger } from "../logging/logger.js";

/**
 * MikroORM's logger, writing to pino at debug level (warnings and errors at their own level).
 * It never enables the "query-params" namespace, so MikroORM logs SQL with $1 placeholders, and
 * it never copies the params of a query into a line: a bound value can be a secret.
 */
export class PinoOrmLogger implements MikroLogger {
  constructor(
    private readonly logger: Logger,
    /** Whether debug lines (SQL) are written at all; warnings and errors always are. */
    private readonly debug = true,
  ) {}

  private debugging(): boolean {
    return this.debug && this.logger.isLevelEnabled("debug");
  }

  log(namespace: LoggerNamespace | string, message: string, context?: LogContext): void {
    if (!this.debugging()) return;
    this.logger.debug({ orm: namespace, ...safeFields(context) }, message);
  }

  error(namespace: LoggerNamespace | string, message: string, context?: LogContext): void {
    this.logger.error({ orm: namespace, ...safeFields(context) }, message);
  }

  warn(namespace: LoggerNamespace | string, message: string, context?: LogContext): void {
    this.logger.warn({ orm: namespace, ...safeFields(context) }, message);
  }

  logQuery(context: LogContext): void {
    if (!this.debugging() || !context.query) return;
    this.logger.debug({ orm: "query", ...safeFields(context) }, context.query);
  }

  setDebugMode(): void {
    // The pino level decides; MikroORM's debug switch is not used.
  }

  isEnabled(namespace: LoggerNamespace): boolean {
    if (namespace === "query-params") return false;
    return this.debugging();
  }
}

/** Creates the loggerFactory option of a MikroORM config. */
export function ormLoggerFactory(logger: Logger): (options: LoggerOptions) => MikroLogger {
  // Whether SQL is logged is decided when the service starts (LOG_LEVEL debug): turning the
  // service's logger to debug later (the bench does, to time one debug line of its own; pino
  // children follow) does not log every SQL statement, which costs more than the work it describes.
  const sql = logger.isLevelEnabled("debug");
  return () => new PinoOrmLogger(logger.child({ component: "orm" }), sql);
}

function safeFields(context?: LogContext): Record<string, unknown> {
  if (!context) return {};
  const fields: Record<string, unknown> = {};
  if (context.took !== undefined) fields.took_ms = context.took;
  if (context.results !== undefined) fields.results = context.results;
  if (context.affected !== undefined) fields.affected = context.affected;
  if (context.level === "error") fields.failed = true;
  return fields;
}
