import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

/** Options of stopProcess. */
export interface StopProcessOptions {
  /**
   * Signal the child's whole process group (it was spawned `detached`), and sweep the group with
   * SIGKILL once the child is gone: servers a child started must not outlive it.
   */
  group?: boolean;
  /** How long SIGTERM has before SIGKILL (default 10 s). */
  graceMs?: number;
}

/** Whether the process has exited or never started. */
export function hasExited(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

/**
 * The one way Berth stops a process it started (npm start's services, test servers, bench
 * peers): SIGTERM, SIGKILL after the grace period; resolves once the process has exited.
 */
export async function stopProcess(
  child: ChildProcess,
  options: StopProcessOptions = {},
): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      if (options.group && child.pid !== undefined) process.kill(-child.pid, name);
      else child.kill(name);
    } catch {
      // Gone already.
    }
  };
  if (!hasExited(child)) {
    const exited = once(child, "exit").then(() => "exited" as const);
    signal("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((done) => {
      timer = setTimeout(() => done("late"), options.graceMs ?? 10_000);
    });
    if ((await Promise.race([exited, late])) === "late") signal("SIGKILL");
    clearTimeout(timer);
    await exited;
  }
  if (options.group) signal("SIGKILL");
}
