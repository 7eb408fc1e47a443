import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const GRACE_MS = 10_000;

/**
 * Children run in their own process groups, so they outlive an `npm start` that was killed
 * with SIGKILL. Their pids are recorded here, and the next start stops them first.
 */
export function createLeftovers(runDir: string, root: string) {
  return {
    /** Remembers a child so a later start can stop it if this one dies without cleaning up. */
    async record(name: string, pid: number | undefined): Promise<void> {
      if (pid === undefined) return;
      await mkdir(runDir, { recursive: true });
      await writeFile(join(runDir, `${name}.pid`), String(pid));
    },

    /** Forgets every recorded child (after a clean stop). */
    async clear(): Promise<void> {
      await rm(runDir, { recursive: true, force: true });
    },

    /** Stops children an earlier start left running; returns their names. */
    async stopAll(): Promise<string[]> {
      const files = await readdir(runDir).catch(() => [] as string[]);
      const stopped: string[] = [];
      for (const file of files.filter((f) => f.endsWith(".pid"))) {
        const pid = Number(await readFile(join(runDir, file), "utf8"));
        // A pid may have been reused since: only touch a process started from this checkout.
        if (Number.isInteger(pid) && pid > 1 && commandLine(pid).includes(root)) {
          await stopGroup(pid);
          stopped.push(file.slice(0, -".pid".length));
        }
      }
      await rm(runDir, { recursive: true, force: true });
      return stopped;
    },
  };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

async function stopGroup(pid: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      // gone already
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + GRACE_MS;
  while (commandLine(pid) !== "" && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 100));
  }
  if (commandLine(pid) !== "") signal("SIGKILL");
}
