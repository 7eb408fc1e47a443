import { describe, expect, it } from "vitest";
import { createToolLabels, methodLabel } from "./mcp-labels.js";

describe("metric labels of MCP calls", () => {
  it("names MCP's own methods and folds any other a client invents into other", () => {
    expect(methodLabel("tools/call")).toBe("tools/call");
    expect(methodLabel("made/up-1")).toBe("other");
    expect(methodLabel("")).toBe("unknown");
  });

  it("keeps the first distinct tool names and folds later ones into _other", () => {
    const label = createToolLabels(2);
    expect([label("a"), label("b"), label("c"), label("a"), label(undefined)]).toEqual([
      "a",
      "b",
      "_other",
      "a",
      "",
    ]);
  });
});
