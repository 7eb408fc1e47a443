import { BerthError } from "@berth/sdk";
import { UsageError } from "./args.js";

/** A command that ran but did not get what it was asked for (FAILED, timed out): exit 1. */
export class CommandFailed extends Error {
  override readonly name = "CommandFailed";
  /** Status-like word shown first, e.g. FAILED or DEADLINE_EXCEEDED. */
  readonly code: string;

  /** A failure with its code and message. */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** What to print for a failure and the exit code: 2 for usage mistakes, else 1. */
export function describeFailure(
  error: unknown,
  context: { url: string; apiKeyGiven: boolean },
): { lines: string[]; exitCode: number } {
  if (error instanceof UsageError) {
    return {
      lines: [`berth: ${error.message}`, `Run "berth --help" for usage.`],
      exitCode: 2,
    };
  }
  if (error instanceof Interrupted) return { lines: [], exitCode: 130 };
  if (error instanceof CommandFailed) {
    return { lines: [`berth: ${error.code}: ${error.message}`], exitCode: 1 };
  }
  if (error instanceof BerthError) {
    let message = error.message || "(no message)";
    if (error.code === "UNAVAILABLE" && !message.includes(context.url)) {
      message = `cannot reach Berth at ${context.url}: ${message}`;
    }
    if (error.code === "UNAUTHENTICATED" && !context.apiKeyGiven) {
      message = `${message} (set BERTH_API_KEY or pass --api-key)`;
    }
    const violations = error.fieldViolations.map((v) => `${v.field}: ${v.description}`);
    // Services often make the message the violations joined: say each once.
    if (violations.length > 0 && message === violations.join("; ")) {
      if (violations.length === 1)
        return { lines: [`berth: ${error.code}: ${message}`], exitCode: 1 };
      message = `${violations.length} problems`;
    }
    return {
      lines: [`berth: ${error.code}: ${message}`, ...violations.map((v) => `  ${v}`)],
      exitCode: 1,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { lines: [`berth: INTERNAL: ${message}`], exitCode: 1 };
}

/** The user pressed Ctrl-C: end quietly with exit code 130. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";
}
