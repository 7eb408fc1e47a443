import { describe, expect, it } from "vitest";
import { createRateLimiter } from "./rate-limiter.js";

describe("rate limiter", () => {
  it("allows a burst, then refuses with the wait, then refills at the rate", () => {
    let now = 0;
    const limiter = createRateLimiter(() => now);
    for (let i = 0; i < 3; i++) expect(limiter.take("k", 0.5, 3)).toEqual({ ok: true });
    expect(limiter.take("k", 0.5, 3)).toEqual({ ok: false, retryAfterSeconds: 2 });
    now = 1_000;
    expect(limiter.take("k", 0.5, 3)).toEqual({ ok: false, retryAfterSeconds: 1 });
    now = 2_000;
    expect(limiter.take("k", 0.5, 3)).toEqual({ ok: true });
    expect(limiter.take("k", 0.5, 3).ok).toBe(false);
  });

  it("keeps one bucket per key and never holds more than the burst", () => {
    let now = 0;
    const limiter = createRateLimiter(() => now);
    expect(limiter.take("a", 1, 1).ok).toBe(true);
    expect(limiter.take("a", 1, 1).ok).toBe(false);
    expect(limiter.take("b", 1, 1).ok).toBe(true);
    now = 60_000;
    expect(limiter.take("a", 1, 1).ok).toBe(true);
    expect(limiter.take("a", 1, 1).ok).toBe(false);
  });

  it("peeks without taking", () => {
    let now = 0;
    const limiter = createRateLimiter(() => now);
    expect(limiter.peek("k", 1, 2)).toEqual({ ok: true });
    limiter.take("k", 1, 2);
    limiter.take("k", 1, 2);
    expect(limiter.peek("k", 1, 2)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.peek("k", 1, 2)).toEqual({ ok: false, retryAfterSeconds: 1 });
    now = 1_000;
    expect(limiter.peek("k", 1, 2)).toEqual({ ok: true });
  });
});
