import type { McpServerInstance } from "@berth/proto/gen/berth/instances/v1/instances_pb";

/** A change of one instance: its state after the change; `gone` when the row was removed. */
export interface InstanceChange {
  instance: McpServerInstance;
  gone: boolean;
}

/**
 * In-process fan-out of committed instance changes to WatchInstance streams. One replica sees
 * its own writes and the status events its consumer applies; several replicas would need
 * Postgres LISTEN/NOTIFY instead.
 */
export interface WatchHub {
  publish(change: InstanceChange): void;
  /** Calls listener for every change of the instance until the returned function is called. */
  subscribe(instanceId: string, listener: (change: InstanceChange) => void): () => void;
  /** Number of open subscriptions (for tests and shutdown). */
  size(): number;
}

/** Creates an empty hub. */
export function createWatchHub(): WatchHub {
  const listeners = new Map<string, Set<(change: InstanceChange) => void>>();
  return {
    publish(change) {
      for (const listener of listeners.get(change.instance.id) ?? []) listener(change);
    },
    subscribe(instanceId, listener) {
      const set = listeners.get(instanceId) ?? new Set();
      set.add(listener);
      listeners.set(instanceId, set);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(instanceId);
      };
    },
    size: () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0),
  };
}
