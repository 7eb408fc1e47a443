import type { Logger } from "@berth/platform";
import type { ApiKeyStore } from "./api-key-store.js";

/** Writes one line to the process's standard output (npm start shows it on the terminal only). */
export type PrintLine = (line: string) => void;

/** Prints to stdout directly, not through the logger: the key must appear in no log record. */
export const printToStdout: PrintLine = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * On first start (no keys yet) creates an admin key and prints `BERTH_BOOTSTRAP_API_KEY=<key>`
 * once; a preset value (for scripts and tests) is used instead of a generated one. Logs only
 * that it happened.
 */
export async function ensureBootstrapKey(
  store: ApiKeyStore,
  preset: string | undefined,
  print: PrintLine,
  logger: Logger,
): Promise<void> {
  const key = await store.bootstrap(preset || undefined);
  if (key === undefined) return;
  logger.info(
    { preset: Boolean(preset) },
    "created the bootstrap admin API key (printed once on standard output)",
  );
  if (!preset) print(`BERTH_BOOTSTRAP_API_KEY=${key}`);
}
