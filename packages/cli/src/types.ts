import type { BerthClient } from "@berth/sdk";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { OptionSpec, OptionValues } from "./args.js";

/** What the CLI touches outside itself; main.ts wires the real process in. */
export interface CliIo {
  /** Writes one line (or block) to standard output. */
  out(text: string): void;
  /** Writes one line (or block) to standard error. */
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** The whole of standard input (for `servers import -`). */
  readStdin(): Promise<string>;
  /** One secret value: typed without echo on a terminal, else standard input (one line). */
  readSecret(name: string): Promise<string>;
  /** Aborts on Ctrl-C: long-running commands (watch, logs --follow) end quietly. */
  signal: AbortSignal;
}

/** Where results go: a table for people, protobuf JSON for programs. */
export type OutputFormat = "table" | "json";

/** What every command gets. */
export interface Context {
  berth: BerthClient;
  io: CliIo;
  output: OutputFormat;
  /** The gateway's base URL. */
  url: string;
  /** Prints a message as protobuf JSON (toJson), pretty unless compact. */
  json<D extends DescMessage>(schema: D, message: MessageShape<D>, compact?: boolean): void;
  /** A progress or summary line: stdout for tables, stderr under --output json. */
  note(text: string): void;
}

/** Parsed arguments of one command. */
export interface Invocation {
  values: OptionValues;
  positionals: string[];
}

/** One command, such as `instances create`. */
export interface Command {
  /** Arguments after the command words, as shown in the help. */
  usage: string;
  summary: string;
  options: OptionSpec;
  positionals: { min: number; max: number };
  /** Runs it; a failure throws (BerthError, CommandFailed, UsageError). */
  run(ctx: Context, args: Invocation): Promise<void>;
}

/** The verbs of one command group. */
export type CommandGroup = Record<string, Command>;
