import type { Logger } from "@berth/platform";

/** One instance's traffic since the last report. */
export interface ActivityItem {
  instanceId: string;
  /** The latest request's time (ms). */
  lastRequestAt: number;
  /** Exchanges open now (event streams, requests in flight). */
  openStreams: number;
}

/** Options of createActivityReporter. */
export interface ActivityReporterOptions {
  /** Sends a batch to the runtime (RuntimeService.ReportActivity). */
  send(items: ActivityItem[]): Promise<void>;
  /** How often pending traffic and open streams are reported. */
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

/** What the MCP paths tell the reporter. */
export interface ActivityReporter {
  /** An MCP request for the instance arrived. */
  touch(instanceId: string): void;
  /** An exchange opened (held until the answer or stream ends); call the result when it ends. */
  open(instanceId: string): () => void;
  stop(): void;
}

/**
 * The idle policy's clock, fed from the data plane: the runtime stops an instance after its idle
 * timeout without traffic, so the gateway reports which instances it sees requests for. Reports
 * are batched (one RPC per interval for every instance), except that the first request for an
 * instance after a quiet interval is reported at once, so a request arriving just before the
 * deadline moves it before it passes. Instances with exchanges open are reported every interval
 * while they stay open: a long event stream keeps its instance awake. A failed report is logged
 * and folded into the next one (the traffic stays pending).
 */
export function createActivityReporter(options: ActivityReporterOptions): ActivityReporter {
  const now = options.now ?? Date.now;
  const pending = new Map<string, number>();
  const open = new Map<string, number>();
  const reportedAt = new Map<string, number>();
  let sending: Promise<void> | undefined;
  let stopped = false;

  const flush = (only?: string): void => {
    if (stopped || sending) return;
    const ids = only ? [only] : [...new Set([...pending.keys(), ...open.keys()])];
    if (ids.length === 0) return;
    const at = now();
    const items = ids.map((instanceId) => ({
      instanceId,
      lastRequestAt: pending.get(instanceId) ?? 0,
      openStreams: open.get(instanceId) ?? 0,
    }));
    for (const id of ids) {
      pending.delete(id);
      reportedAt.set(id, at);
    }
    sending = options
      .send(items)
      .catch((error) => {
        options.logger.debug({ err: error }, "reporting MCP activity failed; will retry");
        for (const item of items) {
          if (item.lastRequestAt > (pending.get(item.instanceId) ?? 0))
            pending.set(item.instanceId, item.lastRequestAt);
        }
      })
      .finally(() => {
        sending = undefined;
      });
  };

  const timer = setInterval(() => {
    flush();
    // Forget instances quiet for a while (bounded memory).
    const cutoff = now() - 10 * options.intervalMs;
    for (const [id, at] of reportedAt) if (at < cutoff && !open.has(id)) reportedAt.delete(id);
  }, options.intervalMs);
  timer.unref();

  return {
    touch(instanceId) {
      const at = now();
      pending.set(instanceId, at);
      const last = reportedAt.get(instanceId) ?? 0;
      if (at - last >= options.intervalMs) flush(instanceId);
    },
    open(instanceId) {
      open.set(instanceId, (open.get(instanceId) ?? 0) + 1);
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        const left = (open.get(instanceId) ?? 1) - 1;
        if (left > 0) open.set(instanceId, left);
        else open.delete(instanceId);
        // The end of an exchange is traffic too: the idle clock runs from here.
        pending.set(instanceId, now());
      };
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
