import { describe, expect, it } from "vitest";
import { compareVersions } from "./version.js";

describe("compareVersions", () => {
  it("orders semantic versions by precedence", () => {
    expect(compareVersions("1.2.0", "1.10.0")).toBe(-1);
    expect(compareVersions("2.0.0", "1.99.99")).toBe(1);
    expect(compareVersions("1.0.0-alpha", "1.0.0")).toBe(-1);
    expect(compareVersions("1.0.0-alpha.2", "1.0.0-alpha.10")).toBe(-1);
    expect(compareVersions("1.0.0-beta", "1.0.0-alpha.1")).toBe(1);
    expect(compareVersions("1.0.0+build.1", "1.0.0+build.2")).toBe(0);
    expect(compareVersions("1.0.0", "1.0.0")).toBe(0);
  });

  it("treats a different non-semantic version as newer", () => {
    expect(compareVersions("2026-01", "2025-12")).toBe(1);
    expect(compareVersions("2025-12", "2026-01")).toBe(1);
  });
});
