import type { SqlExecutor } from "@berth/platform";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { LiveRuntime, Orphan } from "./assign-orphans.js";

// Every time below is the database's clock (now()): runtimes on different hosts never compare
// their own clocks, so clock skew between hosts cannot make two of them believe they own a row.

const RUNTIMES = `"runtime"."runtimes"`;
export const WORKLOADS = `"runtime"."workloads"`;
const ttl = `? * interval '1 millisecond'`;

/** A runtime row as peers see it. */
export interface RuntimeRow {
  id: string;
  name: string;
  engine: string;
  /** Where its RuntimeService answers (host:port); empty until it serves. */
  address: string;
  alive: boolean;
}

/**
 * Registers a new incarnation. An older live row of the same name is a previous process of this
 * runtime (killed and started again): it is expired at once, so its workloads come back now
 * rather than after its lease runs out, and should it still be running somewhere it is fenced.
 * One statement (data-modifying CTE), so both happen or neither.
 */
export async function registerRuntime(
  sql: SqlExecutor,
  row: { id: string; name: string; engine: string; ttlMs: number },
): Promise<void> {
  await sql.execute(
    `with expired as (
       update ${RUNTIMES} set expires_at = now() where name = ? and expires_at > now()
     )
     insert into ${RUNTIMES} (id, name, engine, expires_at) values (?, ?, ?, now() + ${ttl})`,
    [row.name, row.id, row.name, row.engine, row.ttlMs],
  );
}

/**
 * Extends the lease; false when it had already run out (the incarnation is over for good: its
 * workloads may be someone else's by now, and it must register again to own anything).
 */
export async function renewRuntime(sql: SqlExecutor, id: string, ttlMs: number): Promise<boolean> {
  const rows = await sql.execute<{ id: string }[]>(
    `update ${RUNTIMES} set renewed_at = now(), expires_at = now() + ${ttl}
     where id = ? and expires_at > now() returning id`,
    [ttlMs, id],
  );
  return rows.length === 1;
}

/** Ends the lease now (a graceful stop): survivors take the workloads on their next beat. */
export async function expireRuntime(sql: SqlExecutor, id: string): Promise<void> {
  await sql.execute(`update ${RUNTIMES} set expires_at = now() where id = ?`, [id]);
}

export async function setRuntimeAddress(sql: SqlExecutor, id: string, address: string) {
  await sql.execute(`update ${RUNTIMES} set address = ? where id = ?`, [address, id]);
}

/** Runtimes alive now or recently (an owner shown by name after it died), with their loads. */
export async function listRuntimes(sql: SqlExecutor): Promise<(RuntimeRow & { load: number })[]> {
  // Rows of runtimes long dead that own nothing are pruned on the way.
  await sql.execute(
    `delete from ${RUNTIMES} r where r.expires_at < now() - interval '1 hour'
     and not exists (select 1 from ${WORKLOADS} w where w.owner = r.id)`,
  );
  const rows = await sql.execute<
    { id: string; name: string; engine: string; address: string; alive: boolean; load: string }[]
  >(
    `select r.id, r.name, r.engine, r.address, r.expires_at > now() as alive,
       (select count(*) from ${WORKLOADS} w where w.owner = r.id and w.state <> 'REMOVED') as load
     from ${RUNTIMES} r`,
  );
  return rows.map((r) => ({ ...r, load: Number(r.load) }));
}

/** Live workloads whose owner is no live runtime (dead, expired, or none yet). */
export async function listOrphans(sql: SqlExecutor, limit: number): Promise<Orphan[]> {
  const rows = await sql.execute<
    { instance_id: string; owner_epoch: string; engine: string; owner_name: string | null }[]
  >(
    `select w.instance_id, w.owner_epoch, w.engine, r.name as owner_name
     from ${WORKLOADS} w left join ${RUNTIMES} r on r.id = w.owner
     where w.state <> 'REMOVED' and (r.id is null or r.expires_at <= now())
     order by w.instance_id limit ?`,
    [limit],
  );
  return rows.map((r) => ({
    instanceId: r.instance_id,
    epoch: Number(r.owner_epoch),
    engine: r.engine,
    ownerName: r.owner_name ?? "",
  }));
}

/**
 * Takes an orphan: a compare-and-set on its owner_epoch, which only succeeds while its owner is
 * still no live runtime and the claimant's own lease holds. The workload is placed on the
 * claimant's engine (the same one when the claimant can adopt its container). Returns the new
 * epoch, or undefined when someone else moved first.
 */
export async function claimWorkload(
  sql: SqlExecutor,
  claim: { runtimeId: string; engine: string; instanceId: string; epoch: number },
): Promise<number | undefined> {
  const rows = await sql.execute<{ owner_epoch: string }[]>(
    `update ${WORKLOADS} w set owner = ?, owner_epoch = w.owner_epoch + 1, engine = ?
     where w.instance_id = ? and w.owner_epoch = ?
       and not exists (select 1 from ${RUNTIMES} r where r.id = w.owner and r.expires_at > now())
       and exists (select 1 from ${RUNTIMES} m where m.id = ? and m.expires_at > now())
     returning w.owner_epoch`,
    [claim.runtimeId, claim.engine, claim.instanceId, claim.epoch, claim.runtimeId],
  );
  return rows[0] ? Number(rows[0].owner_epoch) : undefined;
}

/**
 * Takes several orphans at once (one statement), each by compare-and-set on the epoch the caller
 * read, as claimWorkload does one. Returns the new epochs of those taken; the others were taken
 * by someone else first (or are no orphans any more).
 */
export async function claimWorkloads(
  sql: SqlExecutor,
  claim: {
    runtimeId: string;
    engine: string;
    orphans: readonly { instanceId: string; epoch: number }[];
  },
): Promise<Map<string, number>> {
  if (claim.orphans.length === 0) return new Map();
  const rows = await sql.execute<{ instance_id: string; owner_epoch: string }[]>(
    `update ${WORKLOADS} w set owner = ?, owner_epoch = w.owner_epoch + 1, engine = ?
     from unnest(?::text[], ?::bigint[]) as c(instance_id, epoch)
     where w.instance_id = c.instance_id and w.owner_epoch = c.epoch
       and not exists (select 1 from ${RUNTIMES} r where r.id = w.owner and r.expires_at > now())
       and exists (select 1 from ${RUNTIMES} m where m.id = ? and m.expires_at > now())
     returning w.instance_id, w.owner_epoch`,
    [
      claim.runtimeId,
      claim.engine,
      claim.orphans.map((o) => o.instanceId),
      claim.orphans.map((o) => o.epoch),
      claim.runtimeId,
    ],
  );
  return new Map(rows.map((r) => [r.instance_id, Number(r.owner_epoch)]));
}

/**
 * A renewal that came after the lease ran out, in one transaction: it holds only while nobody took
 * anything over meanwhile. Every workload the runtime owns gets a new epoch (which also makes any
 * claim of it read before this moment fail: a claim is a compare-and-set on the epoch, and the row
 * lock taken here orders it after this transaction), and the lease is extended, but only when
 * each of `known` (what the runtime believes it owns) is still among them and no newer
 * incarnation of its name is alive. Returns the new epochs, or undefined (rolled back): the
 * runtime must register again and take back only what nobody else took.
 */
export async function reviveRuntime(
  pool: { transactional<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> },
  lease: { id: string; name: string; ttlMs: number; known: Iterable<string> },
): Promise<Map<string, number> | undefined> {
  const refused = new Error("lease taken over");
  return pool
    .transactional(async (tx) => {
      const self = await tx.execute<{ id: string }[]>(
        `select id from ${RUNTIMES} where id = ? for update`,
        [lease.id],
      );
      const newer = await tx.execute<{ id: string }[]>(
        `select id from ${RUNTIMES} where name = ? and id <> ? and expires_at > now()`,
        [lease.name, lease.id],
      );
      if (self.length === 0 || newer.length > 0) throw refused;
      const rows = await tx.execute<{ instance_id: string; owner_epoch: string }[]>(
        `update ${WORKLOADS} set owner_epoch = owner_epoch + 1
         where owner = ? and state <> 'REMOVED' returning instance_id, owner_epoch`,
        [lease.id],
      );
      const epochs = new Map(rows.map((r) => [r.instance_id, Number(r.owner_epoch)]));
      for (const instanceId of lease.known) if (!epochs.has(instanceId)) throw refused;
      await tx.execute(
        `update ${RUNTIMES} set renewed_at = now(), expires_at = now() + ${ttl} where id = ?`,
        [lease.ttlMs, lease.id],
      );
      return epochs;
    })
    .catch((error) => {
      if (error === refused) return undefined;
      throw error;
    });
}

/** A workload's owner and epoch now; undefined when it has no live row. */
export async function ownerOf(
  sql: SqlExecutor,
  instanceId: string,
): Promise<{ owner: string | null; epoch: number; alive: boolean } | undefined> {
  const rows = await sql.execute<{ owner: string | null; owner_epoch: string; alive: boolean }[]>(
    `select w.owner, w.owner_epoch, coalesce(r.expires_at > now(), false) as alive
     from ${WORKLOADS} w left join ${RUNTIMES} r on r.id = w.owner
     where w.instance_id = ? and w.state <> 'REMOVED'`,
    [instanceId],
  );
  const row = rows[0];
  return row ? { owner: row.owner, epoch: Number(row.owner_epoch), alive: row.alive } : undefined;
}

/** The live workloads a runtime owns, with their epochs. */
export async function listOwned(sql: SqlExecutor, runtimeId: string): Promise<Map<string, number>> {
  const rows = await sql.execute<{ instance_id: string; owner_epoch: string }[]>(
    `select instance_id, owner_epoch from ${WORKLOADS} where owner = ? and state <> 'REMOVED'`,
    [runtimeId],
  );
  return new Map(rows.map((r) => [r.instance_id, Number(r.owner_epoch)]));
}

/**
 * Where a new workload goes: the live runtime owning the fewest workloads (then the oldest), as
 * a query to embed (applyDesiredChange). No row when none is alive.
 */
export const PLACEMENT = `select r.id, r.engine from ${RUNTIMES} r where r.expires_at > now()
  order by (select count(*) from ${WORKLOADS} w where w.owner = r.id and w.state <> 'REMOVED'),
    r.started_at, r.id
  limit 1`;

/** Whether a runtime's lease holds now (in the caller's transaction: a fenced write checks it). */
export async function leaseHolds(em: EntityManager, runtimeId: string): Promise<boolean> {
  const rows = await em.execute<{ id: string }[]>(
    `select id from ${RUNTIMES} where id = ? and expires_at > now()`,
    [runtimeId],
  );
  return rows.length === 1;
}

export type { LiveRuntime };
