import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, upstreamRetryDelayMs } from "./upstream-retry.js";

const half = () => 0.5;

describe("upstream retries", () => {
  it("backs off on connections that could not be made, up to the attempt limit", () => {
    const delays = [1, 2, 3].map((attempts) =>
      upstreamRetryDelayMs(
        { code: "ECONNREFUSED", phase: "connect", reused: false, attempts },
        half,
      ),
    );
    expect(delays).toEqual([100, 300, undefined]);
    expect(MAX_ATTEMPTS).toBe(3);
  });

  it("jitters the back-off within ±25 %", () => {
    const low = upstreamRetryDelayMs(
      { code: "ECONNREFUSED", phase: "connect", reused: false, attempts: 2 },
      () => 0,
    );
    const high = upstreamRetryDelayMs(
      { code: "ECONNREFUSED", phase: "connect", reused: false, attempts: 2 },
      () => 1,
    );
    expect([low, high]).toEqual([225, 375]);
  });

  it("resends at once, once, a request a kept-alive socket lost before the upstream read it", () => {
    const attempt = { code: "ECONNRESET", phase: "request" as const, reused: true };
    expect(upstreamRetryDelayMs({ ...attempt, attempts: 1 })).toBe(0);
    expect(upstreamRetryDelayMs({ ...attempt, attempts: 2 })).toBeUndefined();
  });

  it("never resends what the upstream may have processed, nor after a connect timeout", () => {
    // A fresh connection reset while the request was out: a tools/call may have run.
    expect(
      upstreamRetryDelayMs({ code: "ECONNRESET", phase: "request", reused: false, attempts: 1 }),
    ).toBeUndefined();
    expect(
      upstreamRetryDelayMs({ code: "ECONNRESET", phase: "response", reused: true, attempts: 1 }),
    ).toBeUndefined();
    expect(
      upstreamRetryDelayMs({ code: "ETIMEDOUT", phase: "connect", reused: false, attempts: 1 }),
    ).toBeUndefined();
  });
});
