import { randomUUID } from "node:crypto";
import type { Logger } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { assignOrphans } from "./assign-orphans.js";
import {
  claimWorkload,
  expireRuntime,
  listOrphans,
  listOwned,
  listRuntimes,
  type RuntimeRow,
  registerRuntime,
  renewRuntime,
  setRuntimeAddress,
} from "./lease-sql.js";

/** Orphans looked at per beat: a large take-over proceeds over several beats. */
const ORPHANS_PER_BEAT = 1_000;

/** A change of a workload row's owner, as the database notifies it. */
export interface OwnerChange {
  id: string;
  owner: string | null;
  epoch: number;
}

/** Options of createRuntimeLease. */
export interface RuntimeLeaseOptions {
  orm: MikroORM;
  /** This runtime's name: unique among the runtimes of one database, stable across restarts. */
  name: string;
  /** The engine (Docker host) its workloads are placed on. */
  engine: string;
  /** How long a lease lasts without a renewal: the bound on a dead runtime's hand-over. */
  ttlMs: number;
  logger: Logger;
  /** Workloads this runtime owns now that it did not (or whose desired state changed). */
  onOwned(instanceIds: string[]): void;
  /** Workloads it no longer owns: it must stop acting on them at once. */
  onReleased(instanceIds: string[]): void;
}

/** A runtime's lease and the workloads it owns under it. */
export interface RuntimeLease {
  readonly name: string;
  readonly engine: string;
  /** The current incarnation (a row of runtime.runtimes); a new one after a lost lease. */
  id(): string;
  /** Registers and takes its share of the orphans; then beats every ttl/3. */
  start(): Promise<void>;
  /** Whether this runtime may act on the instance now: it owns it and its lease holds. */
  owns(instanceId: string): boolean;
  /**
   * Whether the lease holds by this process's own clock: renewed less than ttl ago. A process
   * that was paused past it acts on nothing until a renewal succeeds (fencing).
   */
  valid(): boolean;
  /** One heartbeat now (renew, take orphans, re-read what it owns). */
  beat(): Promise<void>;
  /** A notified change of owner or desired state. */
  noteChange(change: OwnerChange): void;
  /** The runtimes last seen, by id (owner names and addresses). */
  runtimes(): ReadonlyMap<string, RuntimeRow>;
  /** Where this runtime's RuntimeService answers, for peers that forward to the owner. */
  advertise(address: string): Promise<void>;
  /** Ends the lease (graceful stop): survivors take the workloads without waiting for expiry. */
  stop(): Promise<void>;
}

/**
 * Runtime ownership by lease in Postgres (the runtime's own schema): a heartbeat row per runtime
 * renewed at the database's clock, an owner and an owner_epoch per workload changed only by
 * compare-and-set. A runtime that misses its renewals for ttl is dead to the others: on their
 * next beat they split its workloads (assignOrphans) and adopt its containers. It is also dead to
 * itself: past ttl without a renewal it refuses to act (valid()), and when it finds its lease
 * expired it releases everything and registers again as a new incarnation.
 */
export function createRuntimeLease(options: RuntimeLeaseOptions): RuntimeLease {
  const { orm, ttlMs, logger } = options;
  const log = logger.child({ component: "lease", runtime: options.name });
  const em = () => orm.em.fork();
  let id = "";
  let validUntil = 0;
  const owned = new Map<string, number>();
  let known = new Map<string, RuntimeRow>();
  let address = "";
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failing = false;

  async function register(): Promise<void> {
    const next = randomUUID();
    const at = performance.now();
    await registerRuntime(em(), { id: next, name: options.name, engine: options.engine, ttlMs });
    id = next;
    validUntil = at + ttlMs;
    if (address) await setRuntimeAddress(em(), id, address);
    log.info({ runtime_id: id, engine: options.engine }, "runtime lease taken");
  }

  function release(ids: string[]): void {
    for (const instanceId of ids) owned.delete(instanceId);
    if (ids.length > 0) options.onReleased(ids);
  }

  async function pass(): Promise<void> {
    const at = performance.now();
    if (!(await renewRuntime(em(), id, ttlMs))) {
      log.warn(
        { runtime_id: id, owned: owned.size },
        "runtime lease expired before it was renewed; releasing every workload and registering again",
      );
      validUntil = 0;
      release([...owned.keys()]);
      await register();
    } else {
      validUntil = at + ttlMs;
    }
    const runtimes = await listRuntimes(em());
    known = new Map(runtimes.map((r) => [r.id, r]));
    const orphans = await listOrphans(em(), ORPHANS_PER_BEAT);
    if (orphans.length > 0) {
      const live = runtimes.filter((r) => r.alive);
      const assigned = assignOrphans(orphans, live);
      const taken: string[] = [];
      for (const orphan of orphans) {
        if (assigned.get(orphan.instanceId) !== id || !valid()) continue;
        const epoch = await claimWorkload(em(), {
          runtimeId: id,
          engine: options.engine,
          instanceId: orphan.instanceId,
          epoch: orphan.epoch,
        });
        if (epoch === undefined) continue;
        owned.set(orphan.instanceId, epoch);
        taken.push(orphan.instanceId);
      }
      if (taken.length > 0) {
        log.info({ instances: taken.length }, "took over workloads whose owner is gone");
        options.onOwned(taken);
      }
    }
    const now = await listOwned(em(), id);
    const lost = [...owned.keys()].filter((instanceId) => !now.has(instanceId));
    if (lost.length > 0) release(lost);
    const gained = [...now.keys()].filter((instanceId) => !owned.has(instanceId));
    for (const [instanceId, epoch] of now) owned.set(instanceId, epoch);
    if (gained.length > 0) options.onOwned(gained);
  }

  function valid(): boolean {
    return id !== "" && performance.now() < validUntil;
  }

  const beat = () => {
    running ??= pass()
      .then(() => {
        if (failing) log.info("runtime lease renewed again");
        failing = false;
      })
      .catch((error) => {
        if (!failing) log.warn({ err: error }, "runtime lease heartbeat failed; will retry");
        failing = true;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    name: options.name,
    engine: options.engine,
    id: () => id,
    async start() {
      await register();
      await beat();
      timer = setInterval(
        () => {
          if (!stopped) void beat();
        },
        Math.max(100, Math.floor(ttlMs / 3)),
      );
      timer.unref();
    },
    owns: (instanceId) => valid() && owned.has(instanceId),
    valid,
    beat,
    noteChange(change) {
      if (!id) return;
      const mine = owned.get(change.id);
      if (change.owner === id) {
        owned.set(change.id, Math.max(mine ?? 0, change.epoch));
        options.onOwned([change.id]);
      } else if (mine !== undefined && change.epoch > mine) {
        // Someone else owns it at a newer epoch (a notification older than what we hold is stale).
        release([change.id]);
      }
    },
    runtimes: () => known,
    async advertise(next) {
      address = next;
      if (id) await setRuntimeAddress(em(), id, next);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      if (!id) return;
      validUntil = 0;
      await expireRuntime(em(), id).catch((error) =>
        log.warn({ err: error }, "could not end the runtime lease; it runs out by itself"),
      );
    },
  };
}
