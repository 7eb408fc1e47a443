import type { Logger } from "@berth/platform";
import { type AuditRow, type McpCallFacts, mcpCallRow } from "./audit-record.js";
import type { AuditStore } from "./audit-store.js";

/** Options of createMcpCallRecorder. */
export interface McpCallRecorderOptions {
  store: Pick<AuditStore, "insert">;
  logger: Logger;
  /** Most records held while the database is slow or away; newer ones are dropped beyond. */
  maxBuffered?: number;
  /** Most records per insert. */
  batchSize?: number;
  /** How long a record waits for others to share its insert. */
  flushIntervalMs?: number;
  /** Told how many records were dropped (buffer full): a counter for /metrics. */
  onDropped?: (count: number) => void;
}

/** Records MCP calls in the audit trail: in memory at once, in the database in batches. */
export interface McpCallRecorder {
  /**
   * Records one call. Synchronous and cheap: the caller (any MCP path) never waits for the
   * database, and an outage of it never fails or slows a call.
   */
  record(call: McpCallFacts): void;
  /** Writes what is buffered now (tests, shutdown). */
  flush(): Promise<void>;
  /** Flushes, then stops. */
  close(): Promise<void>;
  /** Records waiting to be written. */
  buffered(): number;
  /** Records dropped since start because the buffer was full. */
  dropped(): number;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * A bounded buffer drained by batched inserts. A failed insert puts its batch back (while there is
 * room) and retries with backoff, so a short database outage loses nothing; a long one drops the
 * newest records beyond maxBuffered and counts them.
 */
export function createMcpCallRecorder(options: McpCallRecorderOptions): McpCallRecorder {
  const maxBuffered = options.maxBuffered ?? 10_000;
  const batchSize = options.batchSize ?? 500;
  const interval = options.flushIntervalMs ?? 200;
  let buffer: AuditRow[] = [];
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failures = 0;
  let closed = false;

  const schedule = (delay: number) => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void drain();
    }, delay);
    timer.unref();
  };

  const drop = (count: number) => {
    dropped += count;
    options.onDropped?.(count);
  };

  async function writeAll(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, batchSize);
      buffer = buffer.slice(batch.length);
      try {
        await options.store.insert(batch);
        if (failures > 0) options.logger.info({ after: failures }, "audit trail writes resumed");
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1) {
          options.logger.warn({ err: error }, "audit trail write failed; buffering MCP calls");
        }
        const room = Math.max(0, maxBuffered - buffer.length);
        if (room < batch.length) drop(batch.length - room);
        buffer = [...batch.slice(0, room), ...buffer];
        schedule(Math.min(MAX_BACKOFF_MS, interval * 2 ** failures));
        return;
      }
    }
  }

  function drain(): Promise<void> {
    running ??= writeAll().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    record(call) {
      if (buffer.length >= maxBuffered) return drop(1);
      buffer.push(mcpCallRow(call));
      if (failures > 0) return; // the retry timer is set
      if (buffer.length >= batchSize && !running) void drain();
      else schedule(interval);
    },
    async flush() {
      if (running) await running;
      await drain();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (running) await running;
      if (failures === 0) await drain();
    },
    buffered: () => buffer.length,
    dropped: () => dropped,
  };
}
