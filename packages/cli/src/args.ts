import { type ParseArgsConfig, parseArgs } from "node:util";

/** Options of one command, in node:util parseArgs form. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Parsed option values of one command. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** A mistake in how the command was typed: exit code 2, with a hint to read the help. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
  retries: { type: "string" },
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpec;

/** The command words (`instances create`) and everything else, in order. */
export interface SplitCommand {
  words: string[];
  rest: string[];
}

/**
 * Finds the first two words that are not options (the group and the verb); global options with
 * a value may come before them (`berth --url X servers list`).
 */
export function splitCommand(argv: string[]): SplitCommand {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (words.length === 2) {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith("-") && arg !== "-") {
      rest.push(arg);
      const name = arg.replace(/^-+/, "");
      const spec = Object.entries(GLOBAL_OPTIONS).find(
        ([long, s]) => long === name || ("short" in s && s.short === name),
      );
      if (spec && spec[1].type === "string" && !arg.includes("=") && i + 1 < argv.length) {
        rest.push(argv[++i]!);
      }
      continue;
    }
    words.push(arg);
  }
  return { words, rest };
}

/** Parses a command's options and positionals strictly; a mistake is a UsageError. */
export function parseCommandArgs(
  args: string[],
  options: OptionSpec,
  positionals: { min: number; max: number },
): { values: OptionValues; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs' messages name the option; they never hold a value of --secret (it has one).
    throw new UsageError((error as Error).message.split(". ")[0]!.replace(/\.$/, ""));
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) throw new UsageError("missing argument");
  if (count > positionals.max) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"`);
  }
  return { values: parsed.values as OptionValues, positionals: parsed.positionals };
}

/**
 * NAME=VALUE pairs of a repeated flag (`--env A=1 --env B=2`). The message of a malformed pair
 * names the flag and the variable, never the value (it may be a secret).
 */
export function parseAssignments(list: unknown, flag: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of (list as string[] | undefined) ?? []) {
    const at = item.indexOf("=");
    const name = at < 0 ? item : item.slice(0, at);
    if (at <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new UsageError(`--${flag} needs NAME=VALUE with NAME a variable name`);
    }
    if (name in pairs) throw new UsageError(`--${flag} ${name} is given twice`);
    pairs[name] = item.slice(at + 1);
  }
  return pairs;
}

/** A whole number of seconds from a flag (0 = no limit), as milliseconds. */
export function parseSeconds(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const seconds = Number(value);
  if (!/^\d+$/.test(String(value)) || !Number.isSafeInteger(seconds)) {
    throw new UsageError(`--${flag} must be a whole number of seconds`);
  }
  return seconds * 1000;
}

/** A positive whole number from a flag. */
export function parseCount(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(String(value))) {
    throw new UsageError(`--${flag} must be a positive whole number`);
  }
  return Number(value);
}
