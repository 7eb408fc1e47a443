/** A service cannot start: bad configuration or an unreachable dependency. The message is one line, with no secret. */
export class StartupError extends Error {
  override readonly name = "StartupError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
