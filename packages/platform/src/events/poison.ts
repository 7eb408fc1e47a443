/**
 * An event that can never be applied, however often it is delivered: a handler throws it (through
 * `poison(reason)`) and the consumer moves the event to the dead-letter stream instead of retrying.
 * The reason is shown to operators: name the field and the problem, never a value.
 */
export class PoisonEventError extends Error {
  override readonly name = "PoisonEventError";

  constructor(readonly reason: string) {
    super(`poison event: ${reason}`);
  }
}

/** Refuses the event being handled as poison, e.g. `poison("json_spec.type: unknown driver")`. */
export function poison(reason: string): never {
  throw new PoisonEventError(reason);
}

/** Whether an error says the event is poison (and retrying it is useless). */
export function isPoisonEvent(error: unknown): error is PoisonEventError {
  return error instanceof PoisonEventError;
}
