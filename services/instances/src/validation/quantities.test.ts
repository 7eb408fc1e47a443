import { describe, expect, it } from "vitest";
import { parseCpu, parseMemory } from "./quantities.js";

describe("quantities", () => {
  it("parses docker and kubernetes memory forms", () => {
    expect(parseMemory("256m")).toBe(256 * 1024 ** 2);
    expect(parseMemory("1g")).toBe(1024 ** 3);
    expect(parseMemory("512Mi")).toBe(512 * 1024 ** 2);
    expect(parseMemory("1048576")).toBe(1048576);
    expect(parseMemory("1.5g")).toBe(1.5 * 1024 ** 3);
  });

  it("refuses malformed memory", () => {
    for (const bad of ["", "lots", "-5m", "5 q", "m"]) expect(parseMemory(bad)).toBeUndefined();
  });

  it("parses cpus", () => {
    expect(parseCpu("0.5")).toBe(0.5);
    expect(parseCpu("2")).toBe(2);
    for (const bad of ["", "half", "-1", "1.2.3", "500m"]) expect(parseCpu(bad)).toBeUndefined();
  });
});
