import type { Logger } from "@berth/platform";
import {
  type McpServerInstance,
  McpServerInstanceSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";

/**
 * A change of one instance: its state after the change; when `gone` (its row was removed), only
 * its id and name.
 */
export interface InstanceChange {
  instance: McpServerInstance;
  gone: boolean;
}

/** What a collection watcher is told. */
export interface CollectionListener {
  change(change: InstanceChange): void;
  /** Changes were lost (the feed's connection dropped): the watcher must list again. */
  interrupted(): void;
}

/**
 * Fan-out of committed instance changes to WatchInstance and WatchInstances streams, fed by the
 * database's change notifications (a trigger on the instances table, LISTEN on every replica):
 * a change made through any replica reaches the watchers of all of them.
 */
export interface WatchHub {
  /** Calls listener for every change of the instance until the returned function is called. */
  subscribe(instanceId: string, listener: (change: InstanceChange) => void): () => void;
  /** Tells listener of every change of any instance until the returned function is called. */
  subscribeAll(listener: CollectionListener): () => void;
  /** One notification of the change feed (`{"id","op","name"}`). */
  notified(payload: string): void;
  /** The feed lost notifications: watched instances are read again, collection watchers told. */
  gap(): void;
  /** Number of open subscriptions (for tests and shutdown). */
  size(): number;
}

/** Options of createWatchHub. */
export interface WatchHubOptions {
  /** The current state of the instances with these ids (absent ones are gone). */
  load(ids: string[]): Promise<McpServerInstance[]>;
  logger: Logger;
  /** Delay before reading again after a failed read (default 1 s). */
  retryMs?: number;
}

interface Notice {
  id: string;
  op: string;
  name: string;
  /** The owning team (notices from before migration 0008 carry none). */
  team: string;
}

// A read after lost notifications: an instance not found then was deleted meanwhile.
const GAP = "GAP";

function parseNotice(payload: string): Notice | undefined {
  try {
    const value = JSON.parse(payload) as Partial<Notice>;
    if (typeof value.id !== "string" || typeof value.op !== "string") return undefined;
    return {
      id: value.id,
      op: value.op,
      name: typeof value.name === "string" ? value.name : "",
      team: typeof value.team === "string" ? value.team : "",
    };
  } catch {
    return undefined;
  }
}

/**
 * Creates a hub. Notifications that arrive together are read in one query, and reads happen one
 * batch at a time, so watchers see each instance's states in commit order (a read may skip
 * intermediate states; it never goes back to an older one).
 */
export function createWatchHub(options: WatchHubOptions): WatchHub {
  const { logger } = options;
  const listeners = new Map<string, Set<(change: InstanceChange) => void>>();
  const everyone = new Set<CollectionListener>();
  // Instances to read (id -> name; a deletion is told without reading).
  const pending = new Map<string, Notice>();
  let flushing = false;
  let scheduled = false;
  let retry: NodeJS.Timeout | undefined;

  const wanted = (id: string) => everyone.size > 0 || listeners.has(id);

  const tell = (change: InstanceChange) => {
    for (const listener of listeners.get(change.instance.id) ?? []) listener(change);
    for (const listener of everyone) listener.change(change);
  };

  async function flush(): Promise<void> {
    scheduled = false;
    if (flushing) return;
    flushing = true;
    try {
      while (pending.size > 0) {
        const batch = [...pending.values()].filter((notice) => wanted(notice.id));
        pending.clear();
        const reads = batch.filter((notice) => notice.op !== "DELETE");
        let found: McpServerInstance[] = [];
        if (reads.length > 0) {
          try {
            found = await options.load(reads.map((notice) => notice.id));
          } catch (error) {
            logger.warn({ err: error }, "cannot read changed instances for watchers; retrying");
            // Read again later, unless a newer notice of the same instance arrived meanwhile.
            for (const notice of reads) if (!pending.has(notice.id)) pending.set(notice.id, notice);
            retry ??= setTimeout(() => {
              retry = undefined;
              void flush();
            }, options.retryMs ?? 1_000);
            return;
          }
        }
        const byId = new Map(found.map((instance) => [instance.id, instance]));
        for (const notice of batch) {
          if (notice.op === "DELETE") {
            tell({
              // The team too: a gateway shows a deletion to the members of its team only.
              instance: create(McpServerInstanceSchema, {
                id: notice.id,
                name: notice.name,
                team: notice.team,
              }),
              gone: true,
            });
            continue;
          }
          const instance = byId.get(notice.id);
          if (instance) tell({ instance, gone: false });
          // Not there any more: its deletion's own notice follows, unless the feed lost it.
          else if (notice.op === GAP) {
            tell({ instance: create(McpServerInstanceSchema, { id: notice.id }), gone: true });
          }
        }
      }
    } finally {
      flushing = false;
    }
  }

  const schedule = () => {
    if (scheduled || flushing || retry) return;
    scheduled = true;
    setImmediate(() => void flush());
  };

  return {
    subscribe(instanceId, listener) {
      const set = listeners.get(instanceId) ?? new Set();
      set.add(listener);
      listeners.set(instanceId, set);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(instanceId);
      };
    },
    subscribeAll(listener) {
      everyone.add(listener);
      return () => everyone.delete(listener);
    },
    notified(payload) {
      const notice = parseNotice(payload);
      if (!notice || !wanted(notice.id)) return;
      // A later notice of the same instance supersedes an earlier one still waiting.
      pending.delete(notice.id);
      pending.set(notice.id, notice);
      schedule();
    },
    gap() {
      for (const id of listeners.keys()) {
        if (!pending.has(id)) pending.set(id, { id, op: GAP, name: "", team: "" });
      }
      for (const listener of everyone) listener.interrupted();
      schedule();
    },
    size: () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0) + everyone.size,
  };
}
