import { DesiredState } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { BerthApi } from "../mesh/berth-api.js";
import { sleep } from "../support/stats.js";

/** What a batch of creates produced: the ids (in order of start) and how fast they went. */
export interface CreatedBatch {
  ids: string[];
  failures: number;
  /** Creates per second achieved. */
  rate: number;
}

const MAX_IN_FLIGHT = 8;
let serial = 0;

/**
 * Creates `count` stopped url instances over gRPC (each one McpServerInstanceCreated; the runtime
 * only records a stopped workload): one every 1/perSecond s (open loop; Infinity = as fast as
 * the service answers), at most 8 under way.
 */
export async function createStopped(
  api: BerthApi,
  count: number,
  perSecond: number,
): Promise<CreatedBatch> {
  const ids: string[] = [];
  let failures = 0;
  const inFlight = new Set<Promise<void>>();
  const began = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = began + (i * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    const create: Promise<void> = api.grpc.instances
      .createInstance({
        instance: {
          name: `ev-${(serial++).toString(36)}`,
          desiredState: DesiredState.STOPPED,
          jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" },
        },
      })
      .then(
        (answer) => {
          ids[i] = answer.instance!.id;
        },
        () => {
          failures += 1; // counted and reported; the figures cover the events that exist
        },
      )
      .finally(() => inFlight.delete(create));
    inFlight.add(create);
  }
  await Promise.all(inFlight);
  return {
    ids: ids.filter(Boolean),
    failures,
    rate: count / ((performance.now() - began) / 1000),
  };
}
