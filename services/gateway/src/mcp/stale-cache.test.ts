import { describe, expect, it } from "vitest";
import { createStaleCache } from "./stale-cache.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("stale cache", () => {
  const setup = () => {
    let now = 0;
    const stale: string[] = [];
    const cache = createStaleCache<string>({
      ttlMs: 1_000,
      isOutage: (error) => (error as Error).message === "away",
      onStale: (key) => stale.push(key),
      now: () => now,
    });
    return { cache, stale, advance: (ms: number) => (now += ms) };
  };

  it("serves a fresh value without loading, a stale one while refreshing in the background", async () => {
    const { cache, advance } = setup();
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get("a", load)).toBe("v1");
    expect(await cache.get("a", load)).toBe("v1");
    advance(1_001);
    expect(await cache.get("a", load)).toBe("v1"); // Stale, not waited for.
    await tick();
    expect(await cache.get("a", load)).toBe("v2");
    expect(loads).toBe(2);
  });

  it("keeps serving while the source is away, asking again only once per ttl, and says so", async () => {
    const { cache, stale, advance } = setup();
    await cache.get("a", async () => "v1");
    let attempts = 0;
    const away = async () => {
      attempts++;
      throw new Error("away");
    };
    advance(1_001);
    expect(await cache.get("a", away)).toBe("v1");
    await tick();
    expect(await cache.get("a", away)).toBe("v1");
    expect(await cache.get("a", away)).toBe("v1");
    expect(attempts).toBe(1);
    expect(stale).toEqual(["a"]);
  });

  it("drops a value whose source says it is gone, and propagates a first failure", async () => {
    const { cache, advance } = setup();
    await cache.get("a", async () => "v1");
    advance(1_001);
    const gone = async () => {
      throw new Error("gone");
    };
    await cache.get("a", gone);
    await tick();
    await expect(cache.get("a", gone)).rejects.toThrow("gone");
  });
});
