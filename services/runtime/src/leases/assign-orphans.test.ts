import { describe, expect, it } from "vitest";
import { assignOrphans, type LiveRuntime, type Orphan } from "./assign-orphans.js";

const orphan = (instanceId: string, engine = "host-a", ownerName = "dead"): Orphan => ({
  instanceId,
  epoch: 1,
  engine,
  ownerName,
});
const runtime = (id: string, engine: string, load = 0, name = id): LiveRuntime => ({
  id,
  name,
  engine,
  load,
});

describe("assignOrphans", () => {
  it("splits the orphans of one engine over the survivors on that engine, least loaded first", () => {
    const assigned = assignOrphans(
      ["i1", "i2", "i3", "i4"].map((id) => orphan(id)),
      [runtime("r1", "host-a", 2), runtime("r2", "host-a", 0), runtime("r3", "host-b", 0)],
    );
    expect([...assigned.values()].sort()).toEqual(["r1", "r2", "r2", "r2"]);
  });

  it("gives a dead runtime's workloads to a runtime of its engine, so it adopts rather than recreates", () => {
    const assigned = assignOrphans(
      [orphan("i1", "host-b")],
      [runtime("r1", "host-a", 0), runtime("r2", "host-b", 9)],
    );
    expect(assigned.get("i1")).toBe("r2");
  });

  it("places a workload of a dead host on a survivor of another engine (recreated there)", () => {
    const assigned = assignOrphans([orphan("i1", "host-gone")], [runtime("r1", "host-a")]);
    expect(assigned.get("i1")).toBe("r1");
  });

  it("gives the workloads back to the restarted process of the same name", () => {
    const assigned = assignOrphans(
      [orphan("i1", "host-a", "runtime-a")],
      [runtime("r1", "host-a", 0, "runtime-b"), runtime("r2", "host-a", 5, "runtime-a")],
    );
    expect(assigned.get("i1")).toBe("r2");
  });

  it("assigns nothing when no runtime is alive", () => {
    expect(assignOrphans([orphan("i1")], []).size).toBe(0);
  });

  it("is the same whatever order the rows came in (every runtime computes the same split)", () => {
    const live = [runtime("r1", "host-a"), runtime("r2", "host-a")];
    const orphans = ["i3", "i1", "i2"].map((id) => orphan(id));
    expect(assignOrphans(orphans, live)).toEqual(assignOrphans([...orphans].reverse(), live));
  });
});
