import { describe, expect, it } from "vitest";
import { UsageError } from "./args.js";
import { DEFAULT_RETRIES, retryOptions } from "./retries.js";

describe("retryOptions", () => {
  it("retries by default, N more times when asked, and not at all for 0", () => {
    expect(retryOptions(undefined)).toEqual({ maxAttempts: DEFAULT_RETRIES + 1 });
    expect(retryOptions("")).toEqual({ maxAttempts: DEFAULT_RETRIES + 1 });
    expect(retryOptions("5")).toEqual({ maxAttempts: 6 });
    expect(retryOptions("0")).toBe(false);
  });

  it("refuses anything but a whole number up to 10, naming the option", () => {
    for (const bad of ["-1", "two", "1.5", "11"]) {
      expect(() => retryOptions(bad)).toThrow(UsageError);
      expect(() => retryOptions(bad)).toThrow(/--retries/);
    }
  });
});
