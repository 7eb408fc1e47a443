import { describe, expect, it } from "vitest";
import { backoffDelay, createRestartCounter } from "./restart-policy.js";

const policy = { baseMs: 1000, maxMs: 8000, maxAttempts: 5, stableMs: 60_000 };

describe("restart policy", () => {
  it("doubles the delay up to the cap", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n))).toEqual([
      1000, 2000, 4000, 8000, 8000,
    ]);
  });

  it("gives up after maxAttempts, and starts over after a stable period", () => {
    const counter = createRestartCounter(policy);
    const delays = [0, 1, 2, 3, 4, 5].map((n) => counter.next(n * 10));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, undefined]);
    expect(counter.next(50 + 60_001)).toBe(1000);
    expect(counter.count).toBe(1);
  });
});
