import { describe, expect, it } from "vitest";
import { createWaker } from "./waker.js";

async function timed(run: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await run();
  return Date.now() - started;
}

describe("waker", () => {
  it("ends a sleep at once on wake", async () => {
    const waker = createWaker();
    setTimeout(() => waker.wake(), 20);
    expect(await timed(() => waker.sleep(5_000))).toBeLessThan(1_000);
  });

  it("remembers a wake that came while nobody slept", async () => {
    const waker = createWaker();
    waker.wake();
    expect(await timed(() => waker.sleep(5_000))).toBeLessThan(100);
    expect(await timed(() => waker.sleep(50))).toBeGreaterThanOrEqual(40);
  });

  it("ignores a plain wake during a back-off, but not a forced one", async () => {
    const waker = createWaker();
    setTimeout(() => waker.wake(), 10);
    expect(await timed(() => waker.sleep(200, false))).toBeGreaterThanOrEqual(180);
    setTimeout(() => waker.wake(true), 10);
    expect(await timed(() => waker.sleep(5_000, false))).toBeLessThan(1_000);
  });

  it("ends a back-off on interrupt, once", async () => {
    const waker = createWaker();
    setTimeout(() => waker.interrupt(), 10);
    expect(await timed(() => waker.sleep(5_000, false))).toBeLessThan(1_000);
    waker.interrupt();
    expect(await timed(() => waker.sleep(5_000, false))).toBeLessThan(100);
    expect(await timed(() => waker.sleep(50, false))).toBeGreaterThanOrEqual(40);
  });
});
