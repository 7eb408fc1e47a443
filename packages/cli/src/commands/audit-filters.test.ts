import { AuditRecordKind, McpCallOutcome } from "@berth/sdk";
import { describe, expect, it } from "vitest";
import { parseKind, parseOutcome, parseTimeOption } from "./audit-filters.js";

describe("berth audit list options", () => {
  const now = Date.parse("2026-11-27T16:00:00Z");

  it("reads --since as an age before now or as a time", () => {
    expect(parseTimeOption("since", "15m", now).toISOString()).toBe("2026-11-27T15:45:00.000Z");
    expect(parseTimeOption("since", "2d", now).toISOString()).toBe("2026-11-25T16:00:00.000Z");
    expect(parseTimeOption("since", "2026-11-27T10:00:00Z", now).toISOString()).toBe(
      "2026-11-27T10:00:00.000Z",
    );
    expect(() => parseTimeOption("since", "yesterday", now)).toThrow(/--since must be an age/);
    expect(() => parseTimeOption("until", "2026-13-45T00:00:00Z", now)).toThrow(/--until/);
  });

  it("reads outcomes and kinds as words", () => {
    expect(parseOutcome("tool-error")).toBe(McpCallOutcome.TOOL_ERROR);
    expect(() => parseOutcome("fine")).toThrow(/--outcome must be one of ok, error/);
    expect(parseKind("change")).toBe(AuditRecordKind.CHANGE);
    expect(() => parseKind("calls")).toThrow(/--kind must be call or change/);
  });
});
