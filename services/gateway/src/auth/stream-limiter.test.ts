import { Code, ConnectError } from "@berth/platform";
import { describe, expect, it } from "vitest";
import { createStreamLimiter } from "./stream-limiter.js";

describe("stream limiter", () => {
  it("refuses a key's stream beyond the cap until one of its streams ends; other keys unaffected", () => {
    const limiter = createStreamLimiter(2);
    const a = new AbortController();
    const b = new AbortController();
    limiter.open("k1", a.signal);
    limiter.open("k1", b.signal);
    let refused: unknown;
    try {
      limiter.open("k1", new AbortController().signal);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
    limiter.open("k2", new AbortController().signal);
    a.abort();
    a.abort();
    expect(limiter.count("k1")).toBe(1);
    limiter.open("k1", new AbortController().signal);
    expect(limiter.count("k1")).toBe(2);
  });
});
