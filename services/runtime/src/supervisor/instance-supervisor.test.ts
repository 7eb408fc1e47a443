import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "@berth/platform";
import { describe, expect, it } from "vitest";
import type { WorkloadRow } from "../db/workload-entity.js";
import type { WorkloadHandle } from "../drivers/types.js";
import { createInstanceSupervisor, type SupervisorDeps } from "./instance-supervisor.js";

const INSTANCE = "0b7d9a3e-3f0c-4a39-9d4c-6f0d2b1a7e11";

/** A url workload's row that wants to run (the store's answer to every read). */
const row = {
  instanceId: INSTANCE,
  name: "n",
  revision: 1,
  generation: 1,
  desired: "running",
  spec: { type: "url", endpoint: "https://example.invalid/mcp" },
  driver: "url",
  state: "PENDING",
  message: "",
  failedRevision: -1,
  containerId: "",
  endpoint: "",
  restartCount: 0,
  sequence: 0,
  lastRequestAt: null,
} as unknown as WorkloadRow;

/**
 * The supervisor's handling of an action refused for want of the lease (unit, fakes for the
 * store and the driver): it asks whose the workload is now instead of retrying blindly forever.
 */
function harness(recheck: () => Promise<"owned" | "wait" | "lost">) {
  let owned = false;
  const calls = { recheck: 0, ensure: 0, removed: 0 };
  const deps: SupervisorDeps = {
    store: {
      get: async () => row,
      page: async () => [],
      live: async () => [],
      report: async () => true,
      saveTools: async () => undefined,
      recordActivity: async () => true,
    },
    drivers: {
      url: {
        ensure: async () => {
          calls.ensure++;
          // A started workload ends the test's interest: the probe is never reached (closed).
          return {
            instanceId: INSTANCE,
            generation: 1,
            driver: "url",
            endpoint: "http://127.0.0.1:9/mcp",
            headers: {},
            adopted: false,
            exited: new Promise<string>(() => undefined),
            restartable: false,
          } satisfies WorkloadHandle;
        },
        inspect: async () => [],
        remove: async () => undefined,
      },
      docker: { inspect: async () => [], remove: async () => undefined },
    } as never,
    bridge: {} as never,
    secrets: { resolve: async () => ({}) } as never,
    restart: { baseMs: 20, maxMs: 40, maxAttempts: 3, stableMs: 60_000 },
    logger: createLogger({ service: "runtime", level: "silent" }),
    idle: { timeoutMs: 0, wakeTimeoutMs: 1_000 },
    owns: () => owned,
    recheck: async () => {
      calls.recheck++;
      const verdict = await recheck();
      if (verdict === "owned") owned = true;
      return verdict;
    },
  };
  return { deps, calls };
}

describe("a supervisor refused for want of the lease", () => {
  it("stops for good, once, when another runtime owns the workload", async () => {
    const { deps, calls } = harness(async () => "lost");
    let removed = 0;
    const supervisor = createInstanceSupervisor(INSTANCE, deps, () => removed++);
    supervisor.kick();
    await sleep(400); // ten retry delays: a supervisor that retried would have asked again
    expect(calls.recheck).toBe(1);
    expect(removed).toBe(1);
    expect(calls.ensure).toBe(0);
    await supervisor.close();
  });

  it("goes on at once when the workload is still this runtime's (a stale epoch)", async () => {
    const { deps, calls } = harness(async () => "owned");
    const supervisor = createInstanceSupervisor(INSTANCE, deps, () => undefined);
    supervisor.kick();
    for (let i = 0; i < 100 && calls.ensure === 0; i++) await sleep(20);
    expect(calls.ensure, "the workload was never started after the recheck").toBe(1);
    expect(calls.recheck).toBe(1);
    await supervisor.close();
  });

  it("keeps retrying while the lease does not hold, without acting", async () => {
    const { deps, calls } = harness(async () => "wait");
    const supervisor = createInstanceSupervisor(INSTANCE, deps, () => undefined);
    supervisor.kick();
    for (let i = 0; i < 100 && calls.recheck < 3; i++) await sleep(20);
    expect(calls.recheck).toBeGreaterThanOrEqual(3);
    expect(calls.ensure).toBe(0);
    await supervisor.close();
  });
});
