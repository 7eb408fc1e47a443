import { type LatencySummary, summarize } from "../support/stats.js";

/** One closed-loop run: throughput, latency and failures. */
export interface LoadRun extends LatencySummary {
  requestsPerSecond: number;
  failures: number;
}

/**
 * `concurrency` workers each calling `call` back to back until `seconds` have passed (calls under
 * way at the end finish and count). Failures are counted, not retried.
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  call: (worker: number) => Promise<unknown>,
): Promise<LoadRun> {
  const samples: number[] = [];
  let failures = 0;
  const began = performance.now();
  const until = began + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < until) {
        const start = performance.now();
        try {
          await call(worker);
          samples.push(performance.now() - start);
        } catch {
          failures += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - began) / 1000;
  return { ...summarize(samples), requestsPerSecond: samples.length / elapsed, failures };
}
