import { describe, expect, it } from "vitest";
import { MIN_MEMORY_BYTES, parseCpu, parseMemory } from "./quantities.js";

describe("parseMemory: one grammar for every reader", () => {
  it.each([
    ["256m", 256 * 1024 ** 2],
    ["256M", 256 * 1024 ** 2],
    ["256mb", 256 * 1024 ** 2],
    ["512Mi", 512 * 1024 ** 2],
    ["512MiB", 512 * 1024 ** 2],
    ["1g", 1024 ** 3],
    ["1.5g", 1.5 * 1024 ** 3],
    ["2Gi", 2 * 1024 ** 3],
    ["64k", 64 * 1024],
    // formerly runtime only: terabytes
    ["1t", 1024 ** 4],
    ["1Ti", 1024 ** 4],
    ["1048576", 1048576],
    ["100b", 100],
    [" 6m ", MIN_MEMORY_BYTES],
    [1000, 1000],
  ] as const)("%s is %d bytes", (text, bytes) => {
    expect(parseMemory(text)).toBe(bytes);
  });

  it.each(["", "lots", "-5m", "5 q", "m", "1.2.3g", "1p", "0", "0m", -1, 1.5, Number.NaN])(
    "%s is refused",
    (bad) => {
      expect(parseMemory(bad)).toBeUndefined();
    },
  );
});

describe("parseCpu", () => {
  it("reads decimal cpus as text or number and refuses the rest", () => {
    expect(parseCpu("0.5")).toBe(0.5);
    expect(parseCpu("2")).toBe(2);
    expect(parseCpu(1.5)).toBe(1.5);
    for (const bad of ["", "half", "-1", "1.2.3", "500m"]) expect(parseCpu(bad)).toBeUndefined();
  });
});
