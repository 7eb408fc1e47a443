import type { BenchSettings } from "./settings.js";

/** What every leg gets: where things are and how much to do. */
export interface BenchContext {
  /** The repository root. */
  root: string;
  /** bench/out/<run>: logs and profiles of this run. */
  outDir: string;
  logDir: string;
  /** Marks every container and network of this run (label berth.bench). */
  runId: string;
  settings: BenchSettings;
  /** One progress line on the terminal. */
  say(line: string): void;
}
