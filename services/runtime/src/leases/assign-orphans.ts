/** A workload whose owner is gone (or that never had one). */
export interface Orphan {
  instanceId: string;
  /** The owner_epoch a claim must still find (compare-and-set). */
  epoch: number;
  /** The engine (Docker host) its workload was placed on; empty: never placed. */
  engine: string;
  /** The name of the runtime that owned it last; empty: none. */
  ownerName: string;
}

/** A live runtime and how many workloads it owns now. */
export interface LiveRuntime {
  id: string;
  name: string;
  engine: string;
  load: number;
}

/**
 * Which live runtime takes each orphan. Every runtime computes this from the same rows and claims
 * only its own share, so the survivors of a loss split the work without talking to each other; a
 * claim is a compare-and-set, so a runtime that saw different rows at worst leaves an orphan for
 * the next beat, never takes one twice. Preference, in order: a runtime of the same name (the
 * restarted process of the dead owner), one on the same engine (it can adopt the running
 * container instead of starting another), then any; among those the least loaded, then by id.
 */
export function assignOrphans(
  orphans: readonly Orphan[],
  live: readonly LiveRuntime[],
): Map<string, string> {
  const assigned = new Map<string, string>();
  if (live.length === 0) return assigned;
  const load = new Map(live.map((r) => [r.id, r.load]));
  const leastLoaded = (candidates: readonly LiveRuntime[]) =>
    candidates.reduce((best, r) => {
      const a = load.get(r.id)!;
      const b = load.get(best.id)!;
      return a < b || (a === b && r.id < best.id) ? r : best;
    });
  const sorted = [...orphans].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  for (const orphan of sorted) {
    const sameName = live.filter((r) => orphan.ownerName !== "" && r.name === orphan.ownerName);
    const sameEngine = live.filter((r) => orphan.engine !== "" && r.engine === orphan.engine);
    const chosen = leastLoaded(
      sameName.length > 0 ? sameName : sameEngine.length > 0 ? sameEngine : live,
    );
    assigned.set(orphan.instanceId, chosen.id);
    load.set(chosen.id, load.get(chosen.id)! + 1);
  }
  return assigned;
}
