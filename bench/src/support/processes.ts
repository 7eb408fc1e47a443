import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { once } from "node:events";
import { openSync } from "node:fs";
import { stopProcess } from "@berth/testkit/engines";

/** A process the bench started; stop() is bounded (SIGTERM, then SIGKILL). */
export interface Tracked {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  stop(): Promise<void>;
}

const all = new Set<Tracked>();
const STOP_GRACE_MS = 10_000;

/** Spawns a process with stdout and stderr appended to logFile, tracked for stopAll(). */
export function spawnTracked(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string; ipc?: boolean },
): Tracked {
  const log = openSync(options.logFile, "a");
  const stdio: SpawnOptions["stdio"] = options.ipc
    ? ["ignore", log, log, "ipc"]
    : ["ignore", log, log];
  // Its own process group: peers start servers of their own, and stop() ends the whole group.
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env,
    stdio,
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const exited = once(child, "exit").then(() => undefined);
  const tracked: Tracked = {
    name,
    child,
    pid: child.pid,
    exited,
    async stop() {
      await stopProcess(child, { group: true, graceMs: STOP_GRACE_MS });
      all.delete(tracked);
    },
  };
  all.add(tracked);
  void exited.then(() => all.delete(tracked));
  return tracked;
}

/** Stops every tracked process that is still running, newest first. */
export async function stopAll(): Promise<void> {
  const running = [...all].reverse();
  await Promise.all(running.map((p) => p.stop()));
}

/** Resident set size of a process in bytes (VmRSS from /proc), or NaN when unreadable. */
export async function residentBytes(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process has used, in milliseconds, from /proc/<pid>/stat. */
export async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start past the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}
