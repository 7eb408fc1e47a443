/** An engine (Postgres, NATS) is not installed on this machine; the message says what to install. */
export class EngineMissingError extends Error {
  override readonly name = "EngineMissingError";

  /** engine is a human name ("Postgres"), install is the command that provides it. */
  constructor(
    readonly engine: string,
    readonly install: string,
  ) {
    super(`${engine} is not installed on this machine: install it with \`${install}\``);
  }
}

/** An engine is installed but did not start; the message carries the tail of its output. */
export class EngineStartError extends Error {
  override readonly name = "EngineStartError";

  /** message names the engine and what went wrong, output is the engine's last lines. */
  constructor(message: string, options?: { cause?: unknown; output?: string }) {
    const output = options?.output?.trim();
    super(output ? `${message}\n${output}` : message, { cause: options?.cause });
  }
}
