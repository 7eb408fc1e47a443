import { describe, expect, it } from "vitest";
import { bucketCalls } from "./audit-chart.js";

describe("calls and errors per minute", () => {
  const now = new Date("2026-01-01T10:30:20Z");
  it("buckets each instance's calls and errors by minute within the window", () => {
    const series = bucketCalls(
      [
        { instance: "b", time: new Date("2026-01-01T10:30:05Z"), failed: false },
        { instance: "a", time: new Date("2026-01-01T10:30:01Z"), failed: true },
        { instance: "a", time: new Date("2026-01-01T10:30:59Z"), failed: false },
        { instance: "a", time: new Date("2026-01-01T10:28:00Z"), failed: false },
        { instance: "a", time: new Date("2026-01-01T10:26:59Z"), failed: false }, // outside
      ],
      now,
      4,
    );
    expect(series.map((s) => s.instance)).toEqual(["a", "b"]);
    const a = series[0]!;
    expect(a.buckets.map((b) => b.start.toISOString())).toEqual([
      "2026-01-01T10:27:00.000Z",
      "2026-01-01T10:28:00.000Z",
      "2026-01-01T10:29:00.000Z",
      "2026-01-01T10:30:00.000Z",
    ]);
    expect(a.buckets.map((b) => [b.calls, b.errors])).toEqual([
      [0, 0],
      [1, 0],
      [0, 0],
      [2, 1],
    ]);
    expect([a.calls, a.errors]).toEqual([3, 1]);
    expect(series[1]!.calls).toBe(1);
  });

  it("has no series without calls", () => {
    expect(bucketCalls([], now)).toEqual([]);
  });
});
