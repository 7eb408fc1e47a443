import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The `berth` executable of this checkout. */
export const BERTH_BIN = fileURLToPath(new URL("../../bin/berth.js", import.meta.url));

/** What one run of the CLI printed and how it ended. */
export interface BerthRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of a CLI run: where the gateway is, the key, standard input, a time bound. */
export interface BerthRunOptions {
  url: string;
  apiKey?: string;
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Working directory (relative file arguments); this process's by default. */
  cwd?: string;
}

/** A CLI run in progress, for commands that run until interrupted. */
export interface RunningBerth {
  child: ChildProcess;
  /** Resolves when it exits (SIGKILL after timeoutMs). */
  done: Promise<BerthRun>;
  /** Everything printed to standard output so far. */
  stdout(): string;
}

/**
 * Starts `berth <args>` as a real child process (asynchronously: the mesh it calls may live in
 * the calling process, which must keep serving while the child runs).
 */
export function startBerth(args: string[], options: BerthRunOptions): RunningBerth {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, BERTH_URL: options.url };
  if (options.apiKey === undefined) delete env.BERTH_API_KEY;
  else env.BERTH_API_KEY = options.apiKey;
  const child = spawn(process.execPath, [BERTH_BIN, ...args], {
    env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdin!.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const done = new Promise<BerthRun>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, stdout: () => stdout };
}

/** Runs `berth <args>` to its end. */
export function runBerth(args: string[], options: BerthRunOptions): Promise<BerthRun> {
  return startBerth(args, options).done;
}
