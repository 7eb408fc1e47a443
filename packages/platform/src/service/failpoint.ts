/** Environment variable listing the failpoints that are armed (comma separated). */
export const FAILPOINTS_VARIABLE = "BERTH_FAILPOINTS";

/** Kills the process with SIGKILL when `name` is armed in BERTH_FAILPOINTS; crash tests use it. */
export function failpoint(name: string): void {
  const armed = process.env[FAILPOINTS_VARIABLE];
  if (!armed) return;
  if (!armed.split(",").some((entry) => entry.trim() === name)) return;
  // SIGKILL, not exit(): no finally blocks, no flushes, no graceful shutdown, as in a real crash.
  process.kill(process.pid, "SIGKILL");
}
