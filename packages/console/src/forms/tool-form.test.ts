import { describe, expect, it } from "vitest";
import { toolArguments, toolFields } from "./tool-form.js";

describe("the try-a-tool form generated from an input schema", () => {
  const fields = toolFields({
    type: "object",
    properties: {
      message: { type: "string", description: "Message to echo" },
      count: { type: "integer", default: 2 },
      ratio: { type: "number" },
      loud: { type: "boolean" },
      level: { type: "string", enum: ["info", "warn"] },
      tags: { type: "array", items: { type: "string" } },
    },
    required: ["message"],
  });

  it("has one field per property, typed, with defaults and the required ones marked", () => {
    expect(fields.map((f) => [f.name, f.kind, f.required, f.initial])).toEqual([
      ["message", "text", true, ""],
      ["count", "integer", false, "2"],
      ["ratio", "number", false, ""],
      ["loud", "checkbox", false, "false"],
      ["level", "select", false, "info"],
      ["tags", "json", false, ""],
    ]);
  });

  it("builds typed arguments and leaves empty optional inputs out", () => {
    expect(toolArguments(fields, { message: "hi", loud: "true", tags: '["a"]' })).toEqual({
      arguments: { message: "hi", count: 2, loud: true, level: "info", tags: ["a"] },
      errors: {},
    });
  });

  it("reports each input that is missing or not of its type at its field", () => {
    expect(toolArguments(fields, { count: "1.5", ratio: "x", tags: "[" }).errors).toEqual({
      message: "is required",
      count: "must be an integer",
      ratio: "must be a number",
      tags: "must be JSON",
    });
  });

  it("has no fields for a tool without an input object", () => {
    expect(toolFields(undefined)).toEqual([]);
    expect(toolFields({ type: "object" })).toEqual([]);
  });
});
