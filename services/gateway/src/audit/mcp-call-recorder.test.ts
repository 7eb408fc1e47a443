import { createLogger } from "@berth/platform";
import { describe, expect, it } from "vitest";
import type { AuditRow } from "./audit-record.js";
import { createMcpCallRecorder } from "./mcp-call-recorder.js";

const logger = createLogger({ service: "test", level: "silent" });
const call = (method: string) => ({ keyId: "k", method, durationMs: 1, outcome: "ok" as const });

describe("createMcpCallRecorder", () => {
  it("writes calls in batches and never makes record() wait", async () => {
    const batches: AuditRow[][] = [];
    const recorder = createMcpCallRecorder({
      store: { insert: async (rows) => void batches.push([...rows]) },
      logger,
      batchSize: 2,
      flushIntervalMs: 10_000,
    });
    for (const method of ["a", "b", "c"]) recorder.record(call(method));
    await recorder.flush();
    expect(batches.map((b) => b.map((r) => r.method))).toEqual([["a", "b"], ["c"]]);
    expect(recorder.buffered()).toBe(0);
  });

  it("keeps what failed to write while there is room, drops and counts the rest", async () => {
    let down = true;
    const written: string[] = [];
    const dropped: number[] = [];
    const recorder = createMcpCallRecorder({
      store: {
        insert: async (rows) => {
          if (down) throw new Error("database away");
          written.push(...rows.map((r) => r.method));
        },
      },
      logger,
      maxBuffered: 3,
      flushIntervalMs: 10_000,
      onDropped: (n) => dropped.push(n),
    });
    for (const method of ["a", "b", "c", "d"]) recorder.record(call(method));
    expect(recorder.dropped()).toBe(1); // d: the buffer holds 3
    await recorder.flush(); // fails: a, b, c go back
    expect(recorder.buffered()).toBe(3);
    down = false;
    await recorder.flush();
    expect(written).toEqual(["a", "b", "c"]);
    expect(dropped).toEqual([1]);
    await recorder.close();
  });
});
