import { describe, expect, it } from "vitest";
import { isInvalidSpecError, parseSpec, specRefusal } from "./parse-spec.js";

// The rules themselves are table-tested in @berth/spec; these pin the runtime's use of them.
describe("parseSpec", () => {
  it("reads a spec in the runtime's form, with defaults", () => {
    expect(parseSpec({ type: "docker", image: "berth/echo:1" })).toMatchObject({
      ok: true,
      spec: { type: "docker", transport: "stdio", path: "/mcp", environment: {} },
    });
  });

  it("names every bad field in one message, as the workload's failure reason", () => {
    const parsed = parseSpec({
      type: "docker",
      transport: "sse",
      resources: { memory_limit: "1m" },
    });
    expect(parsed.ok).toBe(false);
    const message = parsed.ok ? "" : parsed.message;
    expect(message).toContain("json_spec.image is required");
    expect(message).toContain("json_spec.transport must be stdio or http");
    expect(message).toContain("json_spec.resources.memory_limit must be at least 6m");
  });

  it("refuses an endpoint that would not fit the workloads table", () => {
    const endpoint = `https://mcp.example.com/${"a".repeat(2100)}`;
    expect(parseSpec({ type: "url", endpoint })).toMatchObject({
      ok: false,
      message: expect.stringContaining("json_spec.endpoint must be at most 2048 characters"),
    });
  });
});

describe("specRefusal", () => {
  it("refuses a nonsensical spec or another instance's references, and passes a good one", () => {
    const good = { type: "docker", image: "x:1", environment: { K: "secret_ref:i-1:K" } };
    expect(specRefusal(good, "i-1")).toBeUndefined();
    const foreign = specRefusal(good, "i-2");
    expect(isInvalidSpecError(foreign)).toBe(true);
    expect(foreign?.problems).toEqual([
      {
        field: "json_spec.environment.K",
        description: "is not a secret reference of this instance",
      },
    ]);
    expect(
      specRefusal({ type: "docker", image: 7, port: -1 }, "i-1")?.problems.map((p) => p.field),
    ).toEqual(["json_spec.image", "json_spec.port"]);
  });
});
