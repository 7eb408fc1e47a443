import { StartupError } from "./startup-error.js";

/** A started service: what runService stops on SIGTERM. */
export interface RunningService {
  stop(): Promise<void>;
}

/** Options of runService. */
export interface RunServiceOptions {
  /** Bound on a graceful stop before the process exits anyway. */
  stopTimeoutMs?: number;
}

/**
 * The process entry of every service: start it, stop it gracefully on SIGTERM/SIGINT, and turn
 * a failure to start into one clear line on stderr (a StartupError) instead of a stack trace.
 */
export async function runService(
  name: string,
  start: () => Promise<RunningService>,
  options: RunServiceOptions = {},
): Promise<void> {
  guardProcess(name);
  let running: RunningService;
  try {
    running = await start();
  } catch (error) {
    if (error instanceof StartupError) {
      process.stderr.write(`${name}: ${error.message}\n`);
    } else {
      process.stderr.write(
        `${name}: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
    }
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      process.stderr.write(`${name}: did not stop within the bound after ${signal}; exiting\n`);
      process.exit(1);
    }, options.stopTimeoutMs ?? 15_000);
    timer.unref();
    try {
      await running.stop();
      process.exit(0);
    } catch (error) {
      process.stderr.write(`${name}: error while stopping: ${String(error)}\n`);
      process.exit(1);
    }
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/**
 * The last line of defence, not the design: a rejection nobody handled or an exception nobody
 * caught is logged and the service keeps serving, because one bad value or a dependency outage
 * must not take down every instance the process serves. Each is a defect to fix where it arose.
 */
function guardProcess(name: string): void {
  const report = (kind: string) => (error: unknown) => {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(
      `${JSON.stringify({ level: 50, service: name, time: Date.now(), msg: `${kind}; still serving`, err: detail.slice(0, 4000) })}\n`,
    );
  };
  process.on("unhandledRejection", report("unhandled promise rejection"));
  process.on("uncaughtException", report("uncaught exception"));
}
