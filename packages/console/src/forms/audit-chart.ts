/**
 * Calls and errors per minute for each instance, from audit records: what the audit page's chart
 * draws (and lists as a table for those who cannot see it). Pure, so it is unit-tested.
 */

export interface CallSample {
  readonly instance: string;
  readonly time: Date;
  /** The call did not end OK (JSON-RPC error, tool error, refused, failed). */
  readonly failed: boolean;
}

export interface MinuteBucket {
  /** The minute's start. */
  readonly start: Date;
  readonly calls: number;
  readonly errors: number;
}

export interface InstanceSeries {
  readonly instance: string;
  readonly buckets: readonly MinuteBucket[];
  readonly calls: number;
  readonly errors: number;
}

const MINUTE = 60_000;

/**
 * One series per instance (by name, sorted), `minutes` buckets each ending with the minute that
 * holds `now`; samples outside the window are left out.
 */
export function bucketCalls(
  samples: readonly CallSample[],
  now: Date,
  minutes = 60,
): InstanceSeries[] {
  const last = Math.floor(now.getTime() / MINUTE) * MINUTE;
  const first = last - (minutes - 1) * MINUTE;
  const counts = new Map<string, { calls: number[]; errors: number[] }>();
  for (const sample of samples) {
    const index = Math.floor((sample.time.getTime() - first) / MINUTE);
    if (index < 0 || index >= minutes) continue;
    let series = counts.get(sample.instance);
    if (!series) {
      series = { calls: new Array(minutes).fill(0), errors: new Array(minutes).fill(0) };
      counts.set(sample.instance, series);
    }
    series.calls[index]! += 1;
    if (sample.failed) series.errors[index]! += 1;
  }
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([instance, series]) => ({
      instance,
      buckets: series.calls.map((calls, i) => ({
        start: new Date(first + i * MINUTE),
        calls,
        errors: series.errors[i]!,
      })),
      calls: series.calls.reduce((a, b) => a + b, 0),
      errors: series.errors.reduce((a, b) => a + b, 0),
    }));
}
