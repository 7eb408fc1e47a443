import { type ChildProcess, spawn } from "node:child_process";

/** Options of runCommand. */
export interface RunOptions {
  /** Run as this system user via runuser (only when the current process is root). */
  asUser?: string;
  /** Give up (kill the command) after this many milliseconds. */
  timeoutMs?: number;
}

/** The outcome of a finished command. */
export interface RunResult {
  code: number | null;
  output: string;
}

/** Whether this process runs as root (engines like Postgres refuse root). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Runs a command to completion and collects stdout and stderr together. It runs in its own
 * process group so a Ctrl-C on the terminal reaches the caller only, who decides the order
 * of shutdown.
 */
export function runCommand(
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const [cmd, argv] =
    options.asUser && isRoot()
      ? ["runuser", ["-u", options.asUser, "--", file, ...args]]
      : [file, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    const collect = (chunk: Buffer) => {
      // Keep the tail only: a chatty command must not grow memory without bound.
      output = (output + chunk.toString("utf8")).slice(-16_000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A long-running engine process and the tail of what it printed. */
export interface EngineProcess {
  child: ChildProcess;
  /** The last 8,000 characters of stdout and stderr together (and a spawn error). */
  output(): string;
}

/**
 * Starts an engine (nats-server, haproxy) in its own process group, so a Ctrl-C on the terminal
 * reaches the caller, who stops engines in order; keeps the tail of its output for errors.
 */
export function spawnEngine(binary: string, args: string[]): EngineProcess {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  child.once("error", (error) => collect(Buffer.from(`${error.message}\n`)));
  return { child, output: () => output };
}

/** The last n lines of a text, for error messages. */
export function lastLines(text: string, n = 20): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
