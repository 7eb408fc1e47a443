import { describe, expect, it } from "vitest";
import { createSessionPins } from "./session-pins.js";

const endpoint = (instanceId: string, url = "http://127.0.0.1:1/mcp") => ({
  instanceId,
  url,
  headers: {},
  generation: 1n,
});

describe("session pins", () => {
  it("pins a session to the endpoint it started on, per instance, until deleted or idle", () => {
    let now = 0;
    const pins = createSessionPins({ idleMs: 1_000, now: () => now });
    pins.set("s1", endpoint("a"), "k1");
    expect(pins.get("a", "s1")?.url).toBe("http://127.0.0.1:1/mcp");
    expect(pins.get("b", "s1")).toBeUndefined();
    now = 900;
    expect(pins.get("a", "s1")).toBeDefined(); // Use keeps it alive.
    now = 1_800;
    expect(pins.get("a", "s1")).toBeDefined();
    now = 2_801;
    expect(pins.get("a", "s1")).toBeUndefined();
    pins.set("s2", endpoint("a"), "k1");
    pins.delete("a", "s2");
    expect(pins.get("a", "s2")).toBeUndefined();
  });

  it("forgets the least recently used pin when full", () => {
    const pins = createSessionPins({ max: 2 });
    pins.set("s1", endpoint("a"), "k1");
    pins.set("s2", endpoint("a"), "k1");
    pins.get("a", "s1");
    pins.set("s3", endpoint("a"), "k1");
    expect(pins.get("a", "s2")).toBeUndefined();
    expect(pins.get("a", "s1")).toBeDefined();
    expect(pins.get("a", "s3")).toBeDefined();
  });

  it("counts live sessions per key and per instance; ended and idle ones stop counting", () => {
    let now = 0;
    const pins = createSessionPins({ idleMs: 1_000, now: () => now });
    pins.set("s1", endpoint("a"), "k1");
    pins.set("s2", endpoint("a"), "k1");
    pins.set("s3", endpoint("b"), "k2");
    pins.set("s1", endpoint("a"), "k1"); // The same session again counts once.
    expect(pins.countForKey("k1")).toBe(2);
    expect(pins.countForKey("k2")).toBe(1);
    expect(pins.countForInstance("a")).toBe(2);
    pins.delete("a", "s2");
    expect(pins.countForKey("k1")).toBe(1);
    now = 500;
    pins.get("b", "s3");
    now = 1_200;
    expect(pins.countForKey("k1")).toBe(0); // s1 idle since 0.
    expect(pins.countForInstance("a")).toBe(0);
    expect(pins.countForKey("k2")).toBe(1);
  });
});
