import { setTimeout as sleep } from "node:timers/promises";
import { createServiceClient, type Logger, type MeshIdentity } from "@berth/platform";
import {
  DesiredState,
  InstanceStatus,
  InstancesService,
  type McpServerInstance,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { DesiredChange } from "../events/instance-events.js";

/** Pages of ListInstances read per sync; bounds one pass (100 000 instances). */
const MAX_PAGES = 200;
const PAGE_SIZE = 500;
/** Desired changes applied at once by the start-up sync. */
const SYNC_CONCURRENCY = 4;

/** Reads the desired state of every instance from the instances service. */
export interface DesiredStateSource {
  list(): Promise<DesiredChange[]>;
}

/** The desired change an instance snapshot stands for (the same as its latest event's). */
export function desiredChangeOfInstance(instance: McpServerInstance): DesiredChange {
  const deleting = instance.status === InstanceStatus.DELETING;
  return {
    instanceId: instance.id,
    order: Number(instance.revision),
    generation: Number(instance.generation),
    desired: deleting
      ? "deleted"
      : instance.desiredState === DesiredState.STOPPED
        ? "stopped"
        : "running",
    name: instance.name,
    spec: instance.jsonSpec ?? {},
  };
}

/** A source calling InstancesService.ListInstances, page by page. */
export function createDesiredStateSource(
  address: string,
  identity: MeshIdentity,
): DesiredStateSource {
  // The runtime's mesh certificate is its credential; MESH_POLICY admits it to ListInstances.
  const client = createServiceClient(InstancesService, address, {
    identity,
    defaultTimeoutMs: 10_000,
  });
  return {
    async list() {
      const changes: DesiredChange[] = [];
      let pageToken = "";
      for (let page = 0; page < MAX_PAGES; page++) {
        const response = await client.listInstances({ pageSize: PAGE_SIZE, pageToken });
        for (const instance of response.instances) {
          if (instance.id) changes.push(desiredChangeOfInstance(instance));
        }
        pageToken = response.nextPageToken;
        if (!pageToken) break;
      }
      return changes;
    },
  };
}

/**
 * On start, applies what the instances service holds (not only the runtime's own rows), so an
 * instance created or changed while the runtime was away starts without waiting for the
 * redelivery of its event. Applying is idempotent by revision, so the events that follow change
 * nothing twice. Retries with backoff while the instances service is away, a bounded number of
 * times (events and the periodic reconcile still converge afterwards).
 */
export async function syncDesiredState(deps: {
  source: DesiredStateSource;
  apply(change: DesiredChange): Promise<unknown>;
  kick(instanceId: string): void;
  logger: Logger;
  signal: AbortSignal;
  attempts?: number;
}): Promise<number> {
  const attempts = deps.attempts ?? 8;
  for (let attempt = 1; attempt <= attempts && !deps.signal.aborted; attempt++) {
    try {
      const changes = await deps.source.list();
      // A few at a time: one by one, 20 instances took 30 s on a loaded machine (each is a
      // transaction of its own), and a restarted runtime is waited for meanwhile.
      const queue = [...changes];
      const worker = async () => {
        for (let change = queue.shift(); change && !deps.signal.aborted; change = queue.shift()) {
          try {
            await deps.apply(change);
          } catch (error) {
            queue.length = 0; // the others stop too; the whole pass is tried again
            throw error;
          }
          deps.kick(change.instanceId);
        }
      };
      await Promise.all(Array.from({ length: SYNC_CONCURRENCY }, worker));
      deps.logger.info(
        { instances: changes.length },
        "desired state read from the instances service",
      );
      return changes.length;
    } catch (error) {
      const delay = Math.min(30_000, 500 * 2 ** (attempt - 1));
      deps.logger[attempt === 1 ? "warn" : "debug"](
        { err: error, retry_in_ms: delay },
        "cannot read the desired state from the instances service; will retry",
      );
      await sleep(delay, undefined, { signal: deps.signal }).catch(() => undefined);
    }
  }
  return 0;
}
