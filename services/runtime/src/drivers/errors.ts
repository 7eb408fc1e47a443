/**
 * The errors a workload driver raises, owned by the driver port: callers classify a failure by
 * these classes and predicates, never by reading an engine client's fields.
 */

/** A start that cannot succeed by retrying (e.g. a missing image): the workload is FAILED. */
export class PermanentStartError extends Error {
  override readonly name = "PermanentStartError";
}

/** The engine itself does not answer (not the workload's fault): wait for it, use no restart. */
export class EngineUnavailableError extends Error {
  override readonly name = "EngineUnavailableError";
  constructor(engine: string, options?: ErrorOptions) {
    super(`the ${engine} engine is unreachable`, options);
  }
}

/** A start that failed in a way a restart may fix; the message is safe to show (no env values). */
export class WorkloadStartError extends Error {
  override readonly name = "WorkloadStartError";
}

/** Whether an error means the workload engine does not answer. */
export function isEngineUnavailable(error: unknown): error is EngineUnavailableError {
  return error instanceof EngineUnavailableError;
}

/** Whether retrying the start cannot help. */
export function isPermanentStartError(error: unknown): error is PermanentStartError {
  return error instanceof PermanentStartError;
}

/** A readable reason for a driver failure, cut to a length fit for a status message. */
export function describeDriverError(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
