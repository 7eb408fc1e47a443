import { spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { stopProcess } from "@berth/testkit/engines";
import { compiledServiceArgs } from "./build.js";

const CREDENTIAL = /BERTH_BOOTSTRAP_API_KEY=[^\s"'\\]+/g;
const STOP_GRACE_MS = 10_000;

/** A service running as a child process, its output going to a log file. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<string>;
  /** SIGTERM, SIGKILL after 10 s; resolves when it has exited and its log is flushed. */
  stop(): Promise<void>;
}

/** What the terminal gets from a service's output. */
export interface OutputSinks {
  /** A line that carries the bootstrap credential: shown on the terminal only. */
  onCredential(text: string): void;
  /** An error or fatal log line. */
  onError(text: string): void;
}

/**
 * Spawns `node --max-semi-space-size=2 --conditions=berth-dist <main>` (a compiled entry point
 * whose `@berth/*` imports resolve to the packages' dist/ folders; V8 settings from
 * SERVICE_V8_FLAGS) in its own process group (so a terminal Ctrl-C reaches
 * npm start only, which then stops services before engines). Each output line goes to the log
 * file; the bootstrap credential is redacted there and handed to the terminal instead.
 */
export function spawnService(
  name: string,
  main: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; sinks: OutputSinks },
): ServiceProcess {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(process.execPath, compiledServiceArgs(main), {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let pending = 2;
  const outputDone = new Promise<void>((done) => {
    for (const stream of [child.stdout, child.stderr]) {
      const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on("line", (line) => handleLine(line, log, options.sinks));
      lines.once("close", () => --pending === 0 && done());
    }
  });
  const exited = new Promise<string>((done) => {
    child.once("error", (error) => {
      log.write(`${error.message}\n`);
      done("spawn-failed");
    });
    child.once("exit", (code, signal) => done(signal ?? String(code)));
  }).then(async (how) => {
    await Promise.race([outputDone, new Promise((done) => setTimeout(done, 1_000))]);
    await new Promise((done) => log.end(done));
    return how;
  });
  // The whole group: a service's own children stop with it.
  const stop = async () => {
    await stopProcess(child, { group: true, graceMs: STOP_GRACE_MS });
    await exited; // the log is flushed
  };
  return { name, pid: child.pid, logFile: options.logFile, exited, stop };
}

/** Writes one line to the log, redacted, and tells the terminal what matters. */
function handleLine(line: string, log: WriteStream, sinks: OutputSinks): void {
  log.write(
    `${line.replace(CREDENTIAL, "BERTH_BOOTSTRAP_API_KEY=[shown on the terminal only]")}\n`,
  );
  const parsed = parseJson(line);
  const text = typeof parsed?.msg === "string" ? parsed.msg : line;
  if (line.includes("BERTH_BOOTSTRAP_API_KEY=")) {
    // The message itself when it carries the key, else just the KEY=value part of the line.
    const inText = text.includes("BERTH_BOOTSTRAP_API_KEY=");
    sinks.onCredential(inText ? text : (line.match(CREDENTIAL) ?? []).join(" "));
  } else if (typeof parsed?.level === "number" && parsed.level >= 50) sinks.onError(text);
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The last lines of a log file, for telling the user why a service died. */
export async function tailFile(path: string, lines = 15): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
