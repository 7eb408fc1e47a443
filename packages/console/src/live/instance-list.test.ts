import {
  InstanceStatus,
  type McpServerInstance,
  McpServerInstanceSchema,
  type WatchInstancesResponse,
  WatchInstancesResponseSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createInstanceView, followInstanceList } from "./instance-list.js";

const instance = (id: string, status: InstanceStatus, at: number, created = 1) =>
  create(McpServerInstanceSchema, {
    id,
    name: `name-${id}`,
    status,
    statusTime: timestampFromMs(at),
    createTime: timestampFromMs(created),
  });
const change = (i: McpServerInstance, deleted = false) =>
  create(WatchInstancesResponseSchema, { instance: i, deleted });
const statuses = (list: McpServerInstance[] | undefined) =>
  list?.map((i) => `${i.id}:${InstanceStatus[i.status]}`);

describe("the instances list kept live by WatchInstances", () => {
  it("shows nothing before the listing, then the newer of the listing and each change", () => {
    const view = createInstanceView();
    view.apply(change(instance("a", InstanceStatus.RUNNING, 20)));
    view.apply(change(instance("b", InstanceStatus.STARTING, 5)));
    expect(view.current()).toBeUndefined();
    // The listing was read after a's change but before b's.
    view.listed([
      instance("a", InstanceStatus.STARTING, 10),
      instance("b", InstanceStatus.RUNNING, 8),
      instance("c", InstanceStatus.STOPPED, 1),
    ]);
    expect(statuses(view.current())).toEqual(["a:RUNNING", "b:RUNNING", "c:STOPPED"]);
    // A late, older message does not undo a newer one.
    view.apply(change(instance("a", InstanceStatus.STARTING, 15)));
    expect(statuses(view.current())?.[0]).toBe("a:RUNNING");
  });

  it("adds instances created elsewhere (newest first) and removes deleted ones for good", () => {
    const view = createInstanceView();
    view.listed([instance("a", InstanceStatus.RUNNING, 1, 1)]);
    view.apply(change(instance("n", InstanceStatus.PENDING, 2, 50)));
    expect(statuses(view.current())).toEqual(["n:PENDING", "a:RUNNING"]);
    view.apply(change(instance("a", InstanceStatus.DELETING, 3), true));
    view.apply(change(instance("a", InstanceStatus.DELETING, 4)));
    expect(statuses(view.current())).toEqual(["n:PENDING"]);
  });

  it("opens the stream before listing, and after a drop lists and watches again", async () => {
    const calls: string[] = [];
    const lists: string[][] = [];
    const states: string[] = [];
    const controller = new AbortController();
    let attempt = 0;
    const source = {
      async list() {
        calls.push(`list ${attempt}`);
        return attempt === 1
          ? [instance("a", InstanceStatus.STARTING, 1)]
          : [instance("a", InstanceStatus.RUNNING, 5)];
      },
      watch(): AsyncIterable<WatchInstancesResponse> {
        attempt += 1;
        const mine = attempt;
        return {
          [Symbol.asyncIterator]() {
            calls.push(`watch ${mine}`);
            let sent = false;
            return {
              async next() {
                await new Promise((resolve) => setTimeout(resolve, 5));
                if (mine === 1) throw new Error("stream dropped");
                if (!sent) {
                  sent = true;
                  return { done: false, value: change(instance("b", InstanceStatus.PENDING, 6)) };
                }
                controller.abort();
                throw new Error("aborted");
              },
            };
          },
        };
      },
    };
    await followInstanceList(
      source,
      { onList: (list) => lists.push(statuses(list)!), onState: (s) => states.push(s) },
      controller.signal,
      1,
    );
    expect(calls).toEqual(["watch 1", "list 1", "watch 2", "list 2"]);
    expect(states).toContain("reconnecting");
    expect(lists.at(-1)).toEqual(["a:RUNNING", "b:PENDING"]);
  });
});
