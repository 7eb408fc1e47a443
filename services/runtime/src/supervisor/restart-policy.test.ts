import { describe, expect, it } from "vitest";
import { backoffDelay } from "./restart-policy.js";

const policy = { baseMs: 1000, maxMs: 8000, maxAttempts: 5, stableMs: 60_000 };

describe("restart policy", () => {
  it("doubles the delay up to the cap", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n))).toEqual([
      1000, 2000, 4000, 8000, 8000,
    ]);
  });
});
