import type { Logger } from "@berth/platform";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ActivityItem, createActivityReporter } from "./activity-reporter.js";

const logger = { debug: () => undefined } as unknown as Logger;

describe("createActivityReporter", () => {
  afterEach(() => vi.useRealTimers());

  it("reports the first request at once, later ones in the next batch", async () => {
    vi.useFakeTimers({ now: 10_000 });
    const sent: ActivityItem[][] = [];
    const reporter = createActivityReporter({
      send: async (items) => void sent.push(items),
      intervalMs: 1_000,
      logger,
    });
    reporter.touch("a");
    expect(sent).toEqual([[{ instanceId: "a", lastRequestAt: 10_000, openStreams: 0 }]]);
    await vi.advanceTimersByTimeAsync(100);
    reporter.touch("a");
    reporter.touch("b");
    // b was quiet: at once; a was reported 100 ms ago: with the batch.
    expect(sent[1]).toEqual([{ instanceId: "b", lastRequestAt: 10_100, openStreams: 0 }]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent[2]).toEqual([{ instanceId: "a", lastRequestAt: 10_100, openStreams: 0 }]);
    reporter.stop();
  });

  it("keeps reporting an instance while an exchange is open, and its end as traffic", async () => {
    vi.useFakeTimers({ now: 0 });
    const sent: ActivityItem[][] = [];
    const reporter = createActivityReporter({
      send: async (items) => void sent.push(items),
      intervalMs: 1_000,
      logger,
    });
    const release = reporter.open("s");
    await vi.advanceTimersByTimeAsync(3_000);
    expect(sent.map((batch) => batch[0]?.openStreams)).toEqual([1, 1, 1]);
    release();
    release(); // twice is once
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent.at(-1)).toEqual([{ instanceId: "s", lastRequestAt: 3_000, openStreams: 0 }]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(sent).toHaveLength(4); // quiet and closed: nothing more to say
    reporter.stop();
  });

  it("keeps traffic whose report failed for the next one", async () => {
    vi.useFakeTimers({ now: 5_000 });
    const sent: ActivityItem[][] = [];
    let fail = true;
    const reporter = createActivityReporter({
      send: async (items) => {
        if (fail) throw new Error("runtime away");
        sent.push(items);
      },
      intervalMs: 1_000,
      logger,
    });
    reporter.touch("a");
    await vi.advanceTimersByTimeAsync(10);
    fail = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toEqual([[{ instanceId: "a", lastRequestAt: 5_000, openStreams: 0 }]]);
    reporter.stop();
  });
});
