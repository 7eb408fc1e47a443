import type { Logger } from "@berth/platform";
import type { AuditStore } from "./audit-store.js";

/** Options of createAuditRetention. */
export interface AuditRetentionOptions {
  store: Pick<AuditStore, "deleteBefore">;
  /** Records older than this many days are deleted; 0 keeps them forever. */
  days: number;
  /** How often old records are looked for. */
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Deletes audit records past the retention period: at start, then on a timer. */
export function createAuditRetention(options: AuditRetentionOptions): {
  start(): void;
  /** One sweep now; how many records it deleted. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
} {
  const now = options.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  const sweep = async (): Promise<number> => {
    if (options.days <= 0) return 0;
    const before = new Date(now() - options.days * DAY_MS);
    const deleted = await options.store.deleteBefore(before);
    if (deleted > 0) options.logger.info({ deleted, before }, "old audit records deleted");
    return deleted;
  };
  const tick = () => {
    // Several gateways may sweep at once: the deletes are idempotent. An outage waits for the next.
    running ??= sweep()
      .catch((error) => {
        options.logger.warn({ err: error }, "deleting old audit records failed");
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
  };
  return {
    start() {
      if (options.days <= 0 || timer) return;
      tick();
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    sweep,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
