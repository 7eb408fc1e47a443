import { randomUUID } from "node:crypto";
import { createDatabase, createLogger, createSqlPool, type SqlPool } from "@berth/platform";
import { useEngines } from "@berth/testkit";
import type { MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtimeMigrations } from "../src/db/migrations.js";
import { WorkloadEntity } from "../src/db/workload-entity.js";
import { applyDesiredChange } from "../src/events/instance-events.js";
import { listOrphans } from "../src/leases/lease-sql.js";
import { createRuntimeLease, type RuntimeLease } from "../src/leases/runtime-lease.js";

/** Short, so an expiry is quick to provoke; long enough for a loaded 2-core machine. */
const TTL_MS = 2_000;

/**
 * The lease in one process against a real Postgres: its heartbeat survives an ORM pool that is
 * busy with other work, a renewal that comes late continues when nobody took anything over, and
 * a supervisor's refused action finds out whose the workload is now. Placement with no live
 * runtime leaves no row without an owner that will never be claimed.
 */
describe("runtime lease heartbeat and ownership recovery", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let orm: MikroORM;
  let sql: SqlPool;
  const logger = createLogger({ service: "runtime", level: "warn" });
  const leases: RuntimeLease[] = [];
  const released: string[] = [];

  beforeAll(async () => {
    engines = await useEngines();
    orm = await createDatabase({
      url: engines.databaseUrl,
      schema: "runtime",
      entities: [WorkloadEntity],
      migrations: runtimeMigrations,
      withInbox: true,
      logger,
      // Two pooled connections: a test can occupy all of them.
      poolMax: 2,
    });
    sql = createSqlPool({ url: engines.databaseUrl, max: 2 });
  });

  afterAll(async () => {
    for (const lease of leases) await lease.stop();
    await sql?.close();
    await orm?.close(true);
    await engines?.cleanup();
  });

  const startLease = async (name: string) => {
    const lease = createRuntimeLease({
      sql,
      name,
      engine: "test-engine",
      ttlMs: TTL_MS,
      logger,
      onOwned: () => undefined,
      onReleased: (ids) => released.push(...ids),
    });
    leases.push(lease);
    await lease.start();
    return lease;
  };

  const insertWorkload = async (instanceId: string, owner: string | null, epoch = 1) => {
    await sql.execute(
      `insert into runtime.workloads (instance_id, desired, owner, owner_epoch, engine, created_at, updated_at)
       values (?, 'running', ?, ?, 'test-engine', now(), now())`,
      [instanceId, owner, epoch],
    );
  };

  const rowOf = async (instanceId: string) => {
    const rows = await sql.execute<{ owner: string | null; owner_epoch: string }[]>(
      `select owner, owner_epoch from runtime.workloads where instance_id = ?`,
      [instanceId],
    );
    return { owner: rows[0]?.owner, epoch: Number(rows[0]?.owner_epoch) };
  };

  /** A started lease owning two new workloads (a, b) after one renewal; nothing released yet. */
  const leaseOwningTwo = async (name: string) => {
    const lease = await startLease(name);
    const id = lease.id();
    const a = randomUUID();
    const b = randomUUID();
    await insertWorkload(a, id);
    await insertWorkload(b, id);
    await lease.beat();
    released.length = 0;
    return { lease, id, a, b };
  };

  const expire = (runtimeId: string) =>
    sql.execute(
      `update runtime.runtimes set expires_at = now() - interval '1 second' where id = ?`,
      [runtimeId],
    );

  it("places a new workload on the applying runtime when none looks alive, where a live one finds it", async () => {
    // No runtime row is alive yet: placement alone would leave the row without an owner.
    const applier = randomUUID();
    const instanceId = randomUUID();
    await orm.em
      .fork()
      .transactional((em) =>
        applyDesiredChange(
          em,
          { instanceId, order: 1, generation: 1, desired: "running", spec: { type: "url" } },
          () => ({ id: applier, engine: "test-engine" }),
        ),
      );
    expect(await rowOf(instanceId)).toEqual({ owner: applier, epoch: 1 });
    // The applier's lease is not live: the row is an orphan every live runtime's scan claims.
    const orphans = await listOrphans(sql, 100);
    expect(orphans.map((o) => o.instanceId)).toContain(instanceId);
    const lease = await startLease("rt-place");
    expect((await rowOf(instanceId)).owner).toBe(lease.id());
    expect(lease.owns(instanceId)).toBe(true);
    await lease.stop();
  });

  it("applies desired changes in one statement: newer revisions, stale ones ignored, a delete final", async () => {
    const instanceId = randomUUID();
    const apply = (change: Partial<Parameters<typeof applyDesiredChange>[1]>) =>
      orm.em.fork().transactional((em) =>
        applyDesiredChange(em, {
          instanceId,
          order: 1,
          generation: 1,
          desired: "running",
          ...change,
        }),
      );
    const read = async () =>
      (
        await sql.execute<
          {
            revision: string;
            generation: string;
            desired: string;
            state: string;
            name: string;
            spec: unknown;
            driver: string;
          }[]
        >(
          `select revision, generation, desired, state, name, spec, driver from runtime.workloads where instance_id = ?`,
          [instanceId],
        )
      )[0];
    const spec = { type: "url", endpoint: "https://a.example/mcp" };
    expect(await apply({ name: "first", spec })).toBe(true);
    // Whole milliseconds, as the page cursor (created_at, instance_id) carries them: finer times
    // would repeat rows across a page boundary.
    const [stamp] = await sql.execute<{ sub: string }[]>(
      `select (extract(microseconds from created_at)::bigint % 1000) as sub from runtime.workloads where instance_id = ?`,
      [instanceId],
    );
    expect(Number(stamp?.sub)).toBe(0);
    expect(await read()).toMatchObject({
      revision: "1",
      desired: "running",
      name: "first",
      spec,
      driver: "url",
    });
    await sql.execute(`update runtime.workloads set state = 'RUNNING' where instance_id = ?`, [
      instanceId,
    ]);
    // A stop at a newer revision; the same generation keeps the observed state.
    expect(await apply({ order: 2, desired: "stopped" })).toBe(true);
    expect(await read()).toMatchObject({
      revision: "2",
      desired: "stopped",
      state: "RUNNING",
      name: "first",
      spec,
    });
    // Stale: at or below the row's revision, nothing changes.
    expect(await apply({ order: 2, desired: "running", name: "stale" })).toBe(false);
    expect(await read()).toMatchObject({ desired: "stopped", name: "first" });
    // A new generation: nothing has been observed of it yet.
    const next = { type: "url", endpoint: "https://b.example/mcp" };
    expect(await apply({ order: 3, generation: 2, spec: next })).toBe(true);
    expect(await read()).toMatchObject({
      revision: "3",
      generation: "2",
      state: "PENDING",
      spec: next,
    });
    // A delete is final: a replayed create at a later revision does not revive it.
    expect(await apply({ order: 4, desired: "deleted", spec: undefined })).toBe(true);
    expect(await apply({ order: 5, desired: "running", spec })).toBe(false);
    expect(await read()).toMatchObject({ desired: "deleted", spec: next });
  });

  it("keeps the lease while every pooled ORM connection is busy for several ttls", async () => {
    const lease = await startLease("rt-starved");
    const id = lease.id();
    // Both ORM connections sleep for 2.5 ttl, and more ORM work queues behind them.
    const hold = (ms: number) => orm.em.fork().execute(`select pg_sleep(${ms / 1000})`, [], "run");
    const busy = Promise.all([hold(2.5 * TTL_MS), hold(2.5 * TTL_MS), hold(100)]);
    const lapses: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 2.5 * TTL_MS) {
      if (!lease.valid()) lapses.push(Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await busy;
    expect(lapses, "moments (ms) the lease did not hold while the ORM pool was busy").toEqual([]);
    expect(lease.id(), "the runtime had to register again").toBe(id);
    const rows = await sql.execute<{ alive: boolean }[]>(
      `select expires_at > now() as alive from runtime.runtimes where id = ?`,
      [id],
    );
    expect(rows[0]?.alive).toBe(true);
    await lease.stop();
  });

  it("continues after a late renewal when nobody took anything over, at new epochs", async () => {
    const { lease, id, a, b } = await leaseOwningTwo("rt-late");
    expect(lease.owns(a) && lease.owns(b)).toBe(true);
    await expire(id);
    await lease.beat();
    expect(lease.id(), "a late renewal with nothing taken registered again").toBe(id);
    expect(lease.owns(a) && lease.owns(b)).toBe(true);
    expect(await rowOf(a)).toEqual({ owner: id, epoch: 2 });
    expect(await rowOf(b)).toEqual({ owner: id, epoch: 2 });
    expect(released).toEqual([]);
    await lease.stop();
  });

  it("registers again after a take-over and keeps only what nobody took", async () => {
    const { lease, id, a, b } = await leaseOwningTwo("rt-taken");
    await expire(id);
    // A peer takes a while the lease had run out.
    const peer = randomUUID();
    await sql.execute(
      `insert into runtime.runtimes (id, name, engine, expires_at) values (?, 'rt-peer', 'test-engine', now() + interval '1 minute')`,
      [peer],
    );
    await sql.execute(
      `update runtime.workloads set owner = ?, owner_epoch = owner_epoch + 1 where instance_id = ?`,
      [peer, a],
    );
    await lease.beat();
    expect(lease.id()).not.toBe(id);
    expect(lease.owns(a)).toBe(false);
    expect(lease.owns(b)).toBe(true);
    expect((await rowOf(b)).owner).toBe(lease.id());
    expect(released).toEqual([a]);
    await sql.execute(`update runtime.runtimes set expires_at = now() where id = ?`, [peer]);
    await lease.stop();
  });

  it("recheck: a workload of an earlier incarnation is taken back; a live peer's is lost", async () => {
    const lease = await startLease("rt-recheck");
    // An earlier incarnation of the same runtime, dead: its workload was never taken over.
    const earlier = randomUUID();
    await sql.execute(
      `insert into runtime.runtimes (id, name, engine, expires_at) values (?, 'rt-recheck', 'test-engine', now() - interval '1 second')`,
      [earlier],
    );
    const stale = randomUUID();
    await insertWorkload(stale, earlier, 5);
    expect(lease.owns(stale)).toBe(false);
    expect(await lease.recheck(stale)).toBe("owned");
    expect(lease.owns(stale)).toBe(true);
    expect(await rowOf(stale)).toEqual({ owner: lease.id(), epoch: 6 });
    // Its own, at an epoch it has not seen yet (a late renewal bumped it): owned, fresh epoch.
    await sql.execute(
      `update runtime.workloads set owner_epoch = owner_epoch + 1 where instance_id = ?`,
      [stale],
    );
    expect(await lease.recheck(stale)).toBe("owned");
    const peer = randomUUID();
    await sql.execute(
      `insert into runtime.runtimes (id, name, engine, expires_at) values (?, 'rt-peer2', 'test-engine', now() + interval '1 minute')`,
      [peer],
    );
    const theirs = randomUUID();
    await insertWorkload(theirs, peer, 3);
    expect(await lease.recheck(theirs)).toBe("lost");
    expect(lease.owns(theirs)).toBe(false);
    expect(await rowOf(theirs)).toEqual({ owner: peer, epoch: 3 });
    expect(await lease.recheck(randomUUID())).toBe("lost");
    await sql.execute(`update runtime.runtimes set expires_at = now() where id = ?`, [peer]);
    await lease.stop();
  });
});
