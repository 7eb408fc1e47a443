import type { V1Pod } from "@kubernetes/client-node";
import { exitReason } from "./pod-status.js";

/** Watches running pods until they end; one list call per interval serves every watch. */
export interface PodWatcher {
  /** Resolves with why the pod's container ended; stays pending once the watcher is closed. */
  watch(podName: string, restartsAtStart: number): Promise<string>;
  close(): void;
}

/**
 * A shared poller over the scope's pods: every intervalMs one list, each watched pod judged by
 * exitReason. A failed list (the API server is away) judges nothing: an unreachable control
 * plane is not a crash of the workload. Polls only while something is watched.
 */
export function createPodWatcher(list: () => Promise<V1Pod[]>, intervalMs: number): PodWatcher {
  const watches = new Set<{ podName: string; restarts: number; resolve(reason: string): void }>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function schedule(): void {
    if (closed || timer || watches.size === 0) return;
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
  }

  async function tick(): Promise<void> {
    let pods: V1Pod[] | undefined;
    try {
      pods = await list();
    } catch {
      pods = undefined;
    }
    timer = undefined;
    if (pods && !closed) {
      const byName = new Map(pods.map((pod) => [pod.metadata?.name ?? "", pod]));
      for (const watch of [...watches]) {
        const reason = exitReason(byName.get(watch.podName), watch.restarts);
        if (reason === undefined) continue;
        watches.delete(watch);
        watch.resolve(reason);
      }
    }
    schedule();
  }

  return {
    watch(podName, restarts) {
      return new Promise((resolve) => {
        if (closed) return;
        watches.add({ podName, restarts, resolve });
        schedule();
      });
    },
    close() {
      closed = true;
      clearTimeout(timer);
      watches.clear();
    },
  };
}
