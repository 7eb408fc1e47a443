import { randomUUID } from "node:crypto";
import type { Logger, SqlPool } from "@berth/platform";
import { assignOrphans } from "./assign-orphans.js";
import {
  claimWorkloads,
  expireRuntime,
  listOrphans,
  listOwned,
  listRuntimes,
  ownerOf,
  type RuntimeRow,
  registerRuntime,
  renewRuntime,
  reviveRuntime,
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
  /**
   * Connections of the lease's own (createSqlPool, two suffice), never the ORM's pool: the
   * heartbeat must not wait behind the event handlers and status reports it guards.
   */
  sql: SqlPool;
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
  /**
   * What to do about an instance this runtime was refused to act on (owns() false): reads its
   * owner again. "owned": it is this runtime's now (under its current incarnation, or taken back
   * from an earlier one), act; "wait": the lease does not hold at the moment, try again later;
   * "lost": someone else owns it (or it is gone), stop acting on it for good.
   */
  recheck(instanceId: string): Promise<"owned" | "wait" | "lost">;
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
  const { sql, ttlMs, logger } = options;
  const log = logger.child({ component: "lease", runtime: options.name });
  let id = "";
  let validUntil = 0;
  const owned = new Map<string, number>();
  /** When each instance was last noted as gained (a count of notes), see scan(). */
  const notedAt = new Map<string, number>();
  let notes = 0;
  /**
   * Workloads another runtime took from this one since its last timely renewal (a claim needs
   * this lease expired): a late renewal must not pretend nothing happened.
   */
  const takenAway = new Set<string>();
  let known = new Map<string, RuntimeRow>();
  let address = "";
  const timers: NodeJS.Timeout[] = [];
  let renewing: Promise<void> | undefined;
  let scanning: Promise<void> | undefined;
  let stopped = false;
  let failing = false;

  async function register(): Promise<void> {
    const next = randomUUID();
    const at = performance.now();
    await registerRuntime(sql, { id: next, name: options.name, engine: options.engine, ttlMs });
    id = next;
    validUntil = at + ttlMs;
    if (address) await setRuntimeAddress(sql, id, address);
    log.info({ runtime_id: id, engine: options.engine }, "runtime lease taken");
  }

  function release(ids: string[]): void {
    for (const instanceId of ids) owned.delete(instanceId);
    if (ids.length > 0) options.onReleased(ids);
  }

  /**
   * The heartbeat proper: extends the lease. On its own connections and its own timer, apart from
   * the scan for orphans, so nothing the runtime is busy with delays it.
   */
  async function renew(): Promise<void> {
    const at = performance.now();
    if (await renewRuntime(sql, id, ttlMs)) {
      validUntil = at + ttlMs;
      takenAway.clear();
      return;
    }
    // Late: the lease ran out before this renewal (a paused process, a starved machine). When
    // nobody took anything over meanwhile, it simply continues (every workload at a new epoch).
    const revived =
      takenAway.size > 0
        ? undefined
        : await reviveRuntime(sql, {
            id,
            name: options.name,
            ttlMs,
            known: owned.keys(),
          });
    if (revived) {
      validUntil = at + ttlMs;
      for (const [instanceId, epoch] of revived) owned.set(instanceId, epoch);
      log.warn(
        { runtime_id: id, owned: owned.size },
        "runtime lease renewed after it had run out; nothing was taken over meanwhile, continuing",
      );
      return;
    }
    log.warn(
      { runtime_id: id, owned: owned.size },
      "runtime lease expired before it was renewed; registering again and taking back only what nobody else took",
    );
    validUntil = 0;
    // Nothing acts from here until each workload is settled: owns() is false for all of them.
    const previous = [...owned].map(([instanceId, epoch]) => ({ instanceId, epoch }));
    owned.clear();
    await register();
    takenAway.clear();
    // What no survivor took in the meantime is taken back by compare-and-set on the epoch this
    // process knew (nothing acted while the lease had run out), in one statement. The rest
    // belongs to others now: released.
    const back = await claimWorkloads(sql, {
      runtimeId: id,
      engine: options.engine,
      orphans: previous,
    });
    for (const [instanceId, epoch] of back) owned.set(instanceId, epoch);
    const lost = previous.map((p) => p.instanceId).filter((instanceId) => !back.has(instanceId));
    if (lost.length > 0) options.onReleased(lost);
  }

  /** Who lives, which orphans are this runtime's share, and what it owns now. */
  async function scan(): Promise<void> {
    const runtimes = await listRuntimes(sql);
    known = new Map(runtimes.map((r) => [r.id, r]));
    const orphans = await listOrphans(sql, ORPHANS_PER_BEAT);
    if (orphans.length > 0 && valid()) {
      const live = runtimes.filter((r) => r.alive);
      const assigned = assignOrphans(orphans, live);
      const taken = await claimWorkloads(sql, {
        runtimeId: id,
        engine: options.engine,
        orphans: orphans.filter((o) => assigned.get(o.instanceId) === id),
      });
      for (const [instanceId, epoch] of taken) owned.set(instanceId, epoch);
      if (taken.size > 0) {
        log.info({ instances: taken.size }, "took over workloads whose owner is gone");
        options.onOwned([...taken.keys()]);
      }
    }
    // While the lease does not hold, what it owns is settled by the renewal (it continues or
    // registers again), not here.
    if (!valid()) return;
    // An instance noted as gained while the read below was on its way is not in its answer:
    // it must not be released for that (the notification is newer than the read).
    const before = notes;
    const now = await listOwned(sql, id);
    const lost = [...owned.keys()].filter(
      (instanceId) => !now.has(instanceId) && (notedAt.get(instanceId) ?? 0) <= before,
    );
    if (lost.length > 0) release(lost);
    const gained = [...now.keys()].filter((instanceId) => !owned.has(instanceId));
    for (const [instanceId, epoch] of now) owned.set(instanceId, epoch);
    for (const [instanceId, at] of notedAt) if (at <= before) notedAt.delete(instanceId);
    if (gained.length > 0) options.onOwned(gained);
  }

  function valid(): boolean {
    return id !== "" && performance.now() < validUntil;
  }

  /** Runs one task at a time per kind; a failure is said once per series. */
  const guarded = (what: "renew" | "scan") => {
    const task = async () => {
      if (what === "renew") await renew();
      else await scan();
    };
    const settle = (promise: Promise<void>) =>
      promise
        .then(() => {
          if (failing && what === "renew") log.info("runtime lease renewed again");
          if (what === "renew") failing = false;
        })
        .catch((error) => {
          if (!failing)
            log.warn({ err: error, step: what }, "runtime lease heartbeat failed; will retry");
          if (what === "renew") failing = true;
        });
    if (what === "renew") {
      renewing ??= settle(task()).finally(() => {
        renewing = undefined;
      });
      return renewing;
    }
    scanning ??= settle(task()).finally(() => {
      scanning = undefined;
    });
    return scanning;
  };

  const beat = async () => {
    await guarded("renew");
    await guarded("scan");
  };

  const every = (ms: number, fn: () => unknown) => {
    const timer = setInterval(() => {
      if (!stopped) void fn();
    }, ms);
    timer.unref();
    timers.push(timer);
  };

  return {
    name: options.name,
    engine: options.engine,
    id: () => id,
    async start() {
      await register();
      await beat();
      // Renewed four times per ttl: a renewal or two may come late on a busy machine.
      every(Math.max(100, Math.floor(ttlMs / 4)), () => guarded("renew"));
      every(Math.max(100, Math.floor(ttlMs / 3)), () => guarded("scan"));
    },
    owns: (instanceId) => valid() && owned.has(instanceId),
    valid,
    beat,
    noteChange(change) {
      if (!id) return;
      const mine = owned.get(change.id);
      if (change.owner === id) {
        owned.set(change.id, Math.max(mine ?? 0, change.epoch));
        notedAt.set(change.id, ++notes);
        options.onOwned([change.id]);
      } else if (mine !== undefined && change.epoch > mine) {
        // Someone else owns it at a newer epoch (a notification older than what we hold is stale).
        takenAway.add(change.id);
        release([change.id]);
      }
    },
    async recheck(instanceId) {
      if (!valid()) return "wait";
      const now = await ownerOf(sql, instanceId);
      if (!now) return "lost";
      if (now.owner === id) {
        owned.set(instanceId, Math.max(owned.get(instanceId) ?? 0, now.epoch));
        notedAt.set(instanceId, ++notes);
        return "owned";
      }
      if (now.owner !== null && now.alive) {
        if (owned.has(instanceId)) {
          takenAway.add(instanceId);
          release([instanceId]);
        }
        return "lost";
      }
      // Nobody alive owns it (an earlier incarnation of this runtime, or none): take it the way
      // an orphan is taken, by compare-and-set, so a peer claiming it at the same time wins or
      // loses cleanly.
      const taken = await claimWorkloads(sql, {
        runtimeId: id,
        engine: options.engine,
        orphans: [{ instanceId, epoch: now.epoch }],
      });
      const epoch = taken.get(instanceId);
      if (epoch === undefined) return "wait"; // someone moved first: the next look says who
      owned.set(instanceId, epoch);
      notedAt.set(instanceId, ++notes);
      return "owned";
    },
    runtimes: () => known,
    async advertise(next) {
      address = next;
      if (id) await setRuntimeAddress(sql, id, next);
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.all([renewing, scanning]);
      if (!id) return;
      validUntil = 0;
      await expireRuntime(sql, id).catch((error) =>
        log.warn({ err: error }, "could not end the runtime lease; it runs out by itself"),
      );
    },
  };
}
