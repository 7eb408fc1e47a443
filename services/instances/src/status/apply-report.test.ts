import { describe, expect, it } from "vitest";
import { isStale } from "./apply-report.js";

describe("isStale", () => {
  const row = { generation: 3, statusGeneration: 3, statusSequence: 10 };
  const report = (generation: number, sequence: number) => ({
    generation: BigInt(generation),
    sequence: BigInt(sequence),
  });

  it("ignores reports of an older generation", () => {
    expect(isStale(row, report(2, 99))).toBe(true);
    expect(isStale({ ...row, statusGeneration: 1 }, report(2, 99))).toBe(true);
  });

  it("ignores same-generation reports that are not newer", () => {
    expect(isStale(row, report(3, 10))).toBe(true);
    expect(isStale(row, report(3, 9))).toBe(true);
    expect(isStale(row, report(3, 11))).toBe(false);
  });

  it("applies the first report of a new generation whatever its sequence", () => {
    expect(isStale({ ...row, generation: 4 }, report(4, 1))).toBe(false);
  });
});
