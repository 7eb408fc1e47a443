import { unavailable } from "@berth/platform";
import type {
  McpServerInstance,
  WatchInstanceResponse,
  WatchInstancesResponse,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import {
  InstanceStatus,
  McpServerInstanceSchema,
  WatchInstanceResponseSchema,
  WatchInstancesResponseSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create, equals } from "@bufbuild/protobuf";
import type { InstanceChange } from "../watch-hub.js";
import type { InstancesDeps } from "./deps.js";
import { getInstance } from "./read-handlers.js";

/** Changes kept for a slow reader; older ones are dropped (the newest state always survives). */
const MAX_QUEUED = 64;

/** Changes kept for a slow reader of every instance; beyond, its stream ends (list again). */
const MAX_QUEUED_ALL = 10_000;

/** Waits for the next queued item, or for the signal to abort. */
function createQueue<T>(signal: AbortSignal) {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  return {
    items,
    push(item: T) {
      items.push(item);
      wake?.();
    },
    poke: () => wake?.(),
    async next(): Promise<T | undefined> {
      while (!signal.aborted) {
        const item = items.shift();
        if (item !== undefined) return item;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      return undefined;
    },
    close: () => signal.removeEventListener("abort", onAbort),
  };
}

/**
 * WatchInstance: the current instance, then its state after each change, until the instance is
 * gone (the last message shows it DELETING, "workload removed") or the client goes away (the
 * signal aborts). Changes come from the hub, which every replica's database notifications feed.
 */
export async function* watchInstance(
  deps: InstancesDeps,
  idOrName: string,
  signal: AbortSignal,
): AsyncGenerator<WatchInstanceResponse> {
  const queue = createQueue<InstanceChange>(signal);
  const current = await getInstance(deps, idOrName);
  // Subscribed before the re-read below, so no change between the two is missed.
  const unsubscribe = deps.hub.subscribe(current.id, (change) => {
    queue.push(change);
    if (queue.items.length > MAX_QUEUED) queue.items.shift();
  });
  try {
    let last: McpServerInstance = await getInstance(deps, current.id);
    yield create(WatchInstanceResponseSchema, { instance: last });
    for (;;) {
      const change = await queue.next();
      if (!change) return;
      if (change.gone) {
        // Its last state: DELETING, with the removal said.
        const final = create(McpServerInstanceSchema, {
          ...last,
          status: InstanceStatus.DELETING,
          statusMessage: "workload removed",
        });
        yield create(WatchInstanceResponseSchema, { instance: final });
        return;
      }
      if (equals(McpServerInstanceSchema, change.instance, last)) continue;
      last = change.instance;
      yield create(WatchInstanceResponseSchema, { instance: last });
    }
  } finally {
    queue.close();
    unsubscribe();
  }
}

/**
 * WatchInstances: every change of any instance from now on (each instance's state after it, and
 * its deletion), until the client goes away. A reader too slow to keep up, or a lost database
 * connection (changes missed), ends the stream with UNAVAILABLE: the client lists again and
 * watches again.
 */
export async function* watchInstances(
  deps: InstancesDeps,
  signal: AbortSignal,
): AsyncGenerator<WatchInstancesResponse> {
  type Item = InstanceChange | "interrupted" | "overflow";
  const queue = createQueue<Item>(signal);
  // What each instance looked like when last sent: a change that shows nothing new is skipped.
  const sent = new Map<string, McpServerInstance>();
  const unsubscribe = deps.hub.subscribeAll({
    change(change) {
      if (queue.items.length < MAX_QUEUED_ALL) queue.push(change);
      else if (queue.items[0] !== "overflow") {
        queue.items.length = 0;
        queue.push("overflow");
      }
    },
    interrupted: () => queue.push("interrupted"),
  });
  try {
    for (;;) {
      const item = await queue.next();
      if (item === undefined) return;
      if (item === "interrupted" || item === "overflow") {
        throw unavailable(
          item === "interrupted"
            ? "the change feed was interrupted: list the instances again and watch again"
            : "the watcher fell too far behind: list the instances again and watch again",
        );
      }
      const { instance, gone } = item;
      if (gone) {
        sent.delete(instance.id);
        yield create(WatchInstancesResponseSchema, { instance, deleted: true });
        continue;
      }
      const before = sent.get(instance.id);
      if (before && equals(McpServerInstanceSchema, before, instance)) continue;
      sent.set(instance.id, instance);
      yield create(WatchInstancesResponseSchema, { instance });
    }
  } finally {
    queue.close();
    unsubscribe();
  }
}
