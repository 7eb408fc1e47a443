import { createLogger } from "@berth/platform";
import {
  InstanceStatus,
  type McpServerInstance,
  McpServerInstanceSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { createWatchHub, type InstanceChange } from "./watch-hub.js";

const logger = createLogger({ service: "test", level: "silent" });
const tick = () => new Promise((resolve) => setImmediate(resolve));
const settle = async () => {
  for (let i = 0; i < 5; i++) await tick();
};

function fakeTable() {
  const rows = new Map<string, McpServerInstance>();
  const reads: string[][] = [];
  let failing = false;
  return {
    rows,
    reads,
    fail: (value: boolean) => {
      failing = value;
    },
    put: (id: string, status: InstanceStatus) =>
      rows.set(id, create(McpServerInstanceSchema, { id, name: `n-${id}`, status })),
    load: async (ids: string[]) => {
      reads.push(ids);
      if (failing) throw new Error("database away");
      return ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : []));
    },
  };
}

const notice = (id: string, op = "UPDATE") => JSON.stringify({ id, op, name: `n-${id}` });

describe("watch hub", () => {
  it("reads notified instances in one query and tells only their watchers", async () => {
    const table = fakeTable();
    const hub = createWatchHub({ load: table.load, logger });
    table.put("a", InstanceStatus.RUNNING);
    table.put("b", InstanceStatus.PENDING);
    const seen: InstanceChange[] = [];
    hub.subscribe("a", (change) => seen.push(change));
    hub.notified(notice("a"));
    hub.notified(notice("b")); // nobody watches b: not even read
    hub.notified(notice("a"));
    await settle();
    expect(table.reads).toEqual([["a"]]);
    expect(seen.map((c) => c.instance.status)).toEqual([InstanceStatus.RUNNING]);
  });

  it("tells a deletion without reading, with the instance's id and name", async () => {
    const table = fakeTable();
    const hub = createWatchHub({ load: table.load, logger });
    const seen: InstanceChange[] = [];
    hub.subscribeAll({ change: (c) => seen.push(c), interrupted: () => {} });
    hub.notified(notice("gone", "DELETE"));
    await settle();
    expect(table.reads).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ gone: true, instance: { id: "gone", name: "n-gone" } });
  });

  it("reads again after a failed read, and after a gap tells collection watchers to list again", async () => {
    const table = fakeTable();
    const hub = createWatchHub({ load: table.load, logger, retryMs: 10 });
    table.put("a", InstanceStatus.STARTING);
    const seen: InstanceChange[] = [];
    let interrupted = 0;
    hub.subscribe("a", (c) => seen.push(c));
    hub.subscribeAll({ change: () => {}, interrupted: () => interrupted++ });
    table.fail(true);
    hub.notified(notice("a"));
    await settle();
    expect(seen).toEqual([]);
    table.fail(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.map((c) => c.instance.status)).toEqual([InstanceStatus.STARTING]);
    // Notifications were lost: a watched instance is read again; one deleted meanwhile is gone.
    table.rows.delete("a");
    hub.gap();
    await settle();
    expect(interrupted).toBe(1);
    expect(seen.at(-1)).toMatchObject({ gone: true, instance: { id: "a" } });
  });

  it("ignores payloads it cannot read and stops telling unsubscribed watchers", async () => {
    const table = fakeTable();
    const hub = createWatchHub({ load: table.load, logger });
    table.put("a", InstanceStatus.RUNNING);
    const seen: InstanceChange[] = [];
    const unsubscribe = hub.subscribe("a", (c) => seen.push(c));
    hub.notified("not json");
    hub.notified(JSON.stringify({ id: 1 }));
    expect(hub.size()).toBe(1);
    unsubscribe();
    hub.notified(notice("a"));
    await settle();
    expect(seen).toEqual([]);
    expect(hub.size()).toBe(0);
  });
});
