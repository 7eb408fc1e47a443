import type {
  McpServerInstance,
  WatchInstanceResponse,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import {
  McpServerInstanceSchema,
  WatchInstanceResponseSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create, equals } from "@bufbuild/protobuf";
import type { InstanceChange } from "../watch-hub.js";
import type { InstancesDeps } from "./deps.js";
import { getInstance } from "./read-handlers.js";

/** Changes kept for a slow reader; older ones are dropped (the newest state always survives). */
const MAX_QUEUED = 64;

/**
 * WatchInstance: the current instance, then its state after each change, until the instance is
 * gone (the last message shows it DELETING) or the client goes away (the signal aborts).
 */
export async function* watchInstance(
  deps: InstancesDeps,
  idOrName: string,
  signal: AbortSignal,
): AsyncGenerator<WatchInstanceResponse> {
  const queue: InstanceChange[] = [];
  let wake: (() => void) | undefined;
  const current = await getInstance(deps, idOrName);
  // Subscribed before the re-read below, so no change between the two is missed.
  const unsubscribe = deps.hub.subscribe(current.id, (change) => {
    queue.push(change);
    if (queue.length > MAX_QUEUED) queue.shift();
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    let last: McpServerInstance = await getInstance(deps, current.id);
    yield create(WatchInstanceResponseSchema, { instance: last });
    while (!signal.aborted) {
      const change = queue.shift();
      if (!change) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      if (equals(McpServerInstanceSchema, change.instance, last) && !change.gone) continue;
      last = change.instance;
      yield create(WatchInstanceResponseSchema, { instance: last });
      if (change.gone) return;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}
