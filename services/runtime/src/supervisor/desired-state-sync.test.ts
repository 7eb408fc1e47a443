import { createLogger } from "@berth/platform";
import {
  DesiredState,
  InstanceStatus,
  McpServerInstanceSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { DesiredChange } from "../events/instance-events.js";
import { desiredChangeOfInstance, syncDesiredState } from "./desired-state-sync.js";

const instance = (extra: Record<string, unknown>) =>
  create(McpServerInstanceSchema, {
    id: "i-1",
    name: "n",
    revision: 7n,
    generation: 3n,
    jsonSpec: { type: "url", endpoint: "https://x/mcp" },
    ...extra,
  });

describe("desiredChangeOfInstance", () => {
  it("is what the instance's latest event would say, ordered by its revision", () => {
    expect(desiredChangeOfInstance(instance({ desiredState: DesiredState.RUNNING }))).toEqual({
      instanceId: "i-1",
      order: 7,
      generation: 3,
      desired: "running",
      name: "n",
      spec: { type: "url", endpoint: "https://x/mcp" },
    });
    expect(desiredChangeOfInstance(instance({ desiredState: DesiredState.STOPPED })).desired).toBe(
      "stopped",
    );
    const deleting = instance({
      desiredState: DesiredState.RUNNING,
      status: InstanceStatus.DELETING,
    });
    expect(desiredChangeOfInstance(deleting).desired).toBe("deleted");
  });
});

describe("syncDesiredState", () => {
  const logger = createLogger({ service: "test", level: "silent" });

  it("applies and kicks every instance, retrying while the source is away", async () => {
    let calls = 0;
    const applied: string[] = [];
    const kicked: string[] = [];
    const change = desiredChangeOfInstance(instance({}));
    const count = await syncDesiredState({
      source: {
        async list(): Promise<DesiredChange[]> {
          calls += 1;
          if (calls < 2) throw new Error("unavailable");
          return [change];
        },
      },
      apply: async (c) => applied.push(c.instanceId),
      kick: (id) => kicked.push(id),
      logger,
      signal: new AbortController().signal,
    });
    expect({ count, calls, applied, kicked }).toEqual({
      count: 1,
      calls: 2,
      applied: ["i-1"],
      kicked: ["i-1"],
    });
  });

  it("stops when aborted", async () => {
    const abort = new AbortController();
    abort.abort();
    const count = await syncDesiredState({
      source: { list: async () => [desiredChangeOfInstance(instance({}))] },
      apply: async () => undefined,
      kick: () => undefined,
      logger,
      signal: abort.signal,
    });
    expect(count).toBe(0);
  });
});
