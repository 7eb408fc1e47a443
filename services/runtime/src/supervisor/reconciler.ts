import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@berth/platform";
import type { Drivers } from "../drivers/types.js";
import type { Supervisors } from "./supervisors.js";
import type { WorkloadStore } from "./workload-store.js";

/** Workloads converged per slice of a pass, and the pause between slices. */
const KICKS_PER_SLICE = 100;
const SLICE_PAUSE_MS = 50;

/** The periodic comparison of desired and observed state. */
export interface Reconciler {
  /** One pass: engine objects of unknown instances removed, every live workload converged. */
  reconcileOnce(): Promise<void>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/** Creates the reconciler over the store, the drivers and the supervisors. */
export function createReconciler(deps: {
  store: WorkloadStore;
  drivers: Drivers;
  supervisors: Supervisors;
  logger: Logger;
  /**
   * The engine this runtime works on: containers of workloads placed on another engine are not
   * kept here (a copy left behind on a host whose runtime was given up for dead).
   */
  engine?: string;
  /** Told how long each pass took, in seconds (the reconcile duration metric). */
  onPass?: (seconds: number) => void;
}): Reconciler {
  const log = deps.logger.child({ component: "reconciler" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let dockerDown = false;

  async function pass(): Promise<void> {
    const rows = await deps.store.live();
    const keep = new Set(
      rows
        .filter((row) => !deps.engine || !row.engine || row.engine === deps.engine)
        .map((row) => row.instanceId),
    );
    try {
      const removed = await deps.drivers.docker.collectGarbage(keep);
      if (removed > 0)
        log.info({ removed }, "removed containers and networks of unknown instances");
      if (dockerDown) log.info("the Docker engine is reachable again");
      dockerDown = false;
    } catch (error) {
      if (!dockerDown)
        log.warn({ err: error }, "cannot list Docker objects; docker workloads wait");
      dockerDown = true;
    }
    // Only the owner's kick converges a workload (Supervisors.kick checks the lease). In slices
    // with a pause between them: each kick reads its row, and a thousand reads queued at once
    // would sit in front of every event handler's transaction in the connection pool.
    for (let i = 0; i < rows.length; i += KICKS_PER_SLICE) {
      if (i > 0) await sleep(SLICE_PAUSE_MS);
      for (const row of rows.slice(i, i + KICKS_PER_SLICE)) deps.supervisors.kick(row.instanceId);
    }
  }

  const reconcileOnce = () => {
    const started = performance.now();
    running ??= pass().finally(() => {
      running = undefined;
      deps.onPass?.((performance.now() - started) / 1000);
    });
    return running;
  };

  return {
    reconcileOnce,
    start(intervalMs) {
      timer = setInterval(() => {
        reconcileOnce().catch((error) => log.warn({ err: error }, "reconciliation failed"));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
