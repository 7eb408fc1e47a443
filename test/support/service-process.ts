import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import { stopProcess } from "@berth/testkit/engines";
import { compiledServiceArgs, SERVICE_V8_FLAGS } from "../../scripts/start/build.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** A service started as its own process, the way npm start runs it. */
export interface ServiceProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after a bound; resolves when it is gone. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /**
   * Runs services/<name>/dist/main.js, as `npm start` does (built beforehand), instead of the
   * sources under tsx: a restart then takes as long as in production, not a compile.
   */
  compiled?: boolean;
  /** Also appends everything the process writes to this file (kept for a failure's analysis). */
  logFile?: string;
}

/** Spawns services/<name>/src/main.ts under tsx (or its compiled build) with the given environment. */
export function spawnService(
  name: string,
  env: Record<string, string>,
  options: SpawnOptions = {},
): ServiceProcess {
  const args = options.compiled
    ? compiledServiceArgs(`services/${name}/dist/main.js`)
    : [...SERVICE_V8_FLAGS, "--import", "tsx", `services/${name}/src/main.ts`];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = options.logFile ? createWriteStream(options.logFile, { flags: "a" }) : undefined;
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    log?.write(chunk);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    log?.write(chunk);
  });
  child.once("exit", () => log?.end());
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    output: () => ({ stdout, stderr }),
    exited,
    async stop() {
      await stopProcess(child);
      return exited;
    },
  };
}
