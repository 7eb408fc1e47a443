import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceStoppedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { type Workload, WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { findFreePort, useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServiceProcess, spawnService } from "../../../test/support/service-process.js";
import { connectMcp } from "./support/mcp-helpers.js";
import {
  createPublisher,
  docker,
  type EventPublisher,
  ensureImages,
  IMAGES,
  instanceSnapshot,
  newRunId,
  removeLeftovers,
  runtimeClient,
  runtimeTestEnv,
  waitFor,
} from "./support/runtime-harness.js";

/** The lease of the runtimes under test: short, so a hand-over is quick to watch. */
const TTL_MS = 3_000;
/**
 * The bound a hand-over is held to: the lease's ttl, a beat (ttl/3) to notice, and the adoption
 * (re-attach, first health probe) on a 2-core machine shared with other test files.
 */
const HANDOVER_BOUND_MS = TTL_MS + 45_000;

/**
 * Two (then three) runtime processes against one database and one JetStream, on one Docker
 * engine: instances are spread over them; a runtime killed with SIGKILL has its workloads owned
 * by a survivor within the bound, which adopts the same containers; no instance ever has two
 * containers; a runtime paused (SIGSTOP) past its lease does not act when it resumes.
 */
describe("runtime ownership by lease", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let publisher: EventPublisher;
  let env: Record<string, string>;
  let db: pg.Client;
  const processes: ServiceProcess[] = [];
  /** Every container id ever seen per instance, and the instances seen with two at once. */
  const seen = new Map<string, Set<string>>();
  const duplicates: string[] = [];
  let watching = true;
  let watcher: Promise<void> | undefined;

  type Runtime = { name: string; port: number; process: ServiceProcess };
  const startRuntime = async (name: string): Promise<Runtime> => {
    const port = await findFreePort();
    const child = spawnService("runtime", {
      ...env,
      BERTH_RUNTIME_NAME: name,
      GRPC_PORT: String(port),
    });
    processes.push(child);
    // A fresh runtime process (tsx) takes a while to come up on a busy machine.
    await waitFor(
      `runtime ${name} to answer`,
      () =>
        runtimeClient(port)
          .listWorkloads({})
          .then(
            () => true,
            () => undefined,
          ),
      120_000,
    );
    return { name, port, process: child };
  };

  const workload = (port: number, instanceId: string) =>
    runtimeClient(port)
      .getWorkload({ instanceId })
      .then(
        (r) => r.workload,
        (error) => {
          if (ConnectError.from(error).code === Code.NotFound) return null;
          throw error;
        },
      );

  /** Waits until every instance is RUNNING and owned by one of owners; returns the workloads. */
  const ownedAndRunning = (port: number, ids: string[], owners: string[], ms = 120_000) =>
    waitFor(
      `${ids.length} instances RUNNING under ${owners.join(" or ")}`,
      async () => {
        const all: Workload[] = [];
        for (const id of ids) {
          const w = await workload(port, id).catch(() => undefined);
          if (!w || w.state !== WorkloadState.RUNNING || !owners.includes(w.owner)) return;
          all.push(w);
        }
        return all;
      },
      ms,
    );

  const createInstance = async (name: string) => {
    const instance = instanceSnapshot({
      name,
      spec: {
        type: "docker",
        image: IMAGES.stdio,
        transport: "stdio",
        health_check: { interval: 2, timeout: 5 },
      },
    });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    return instance;
  };

  const deleteInstance = (instanceId: string) =>
    publisher.publish(
      McpServerInstanceDeletedSchema,
      create(McpServerInstanceDeletedSchema, { instanceId, generation: 1n }),
      10,
      instanceId,
    );

  const containersOfRun = async () =>
    docker.listContainers({ all: true, filters: { label: [`berth.test=${runId}`] } });

  /** docker ps by label, four times a second, from the first instance to the end. */
  const watch = async () => {
    while (watching) {
      const byInstance = new Map<string, string[]>();
      for (const c of await containersOfRun().catch(() => [])) {
        const instance = c.Labels["berth.instance"] ?? "";
        byInstance.set(instance, [...(byInstance.get(instance) ?? []), c.Id]);
        seen.set(instance, (seen.get(instance) ?? new Set()).add(c.Id));
      }
      for (const [instance, ids] of byInstance) {
        if (ids.length > 1) duplicates.push(`${instance}: ${ids.join(", ")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    publisher = await createPublisher(engines.natsUrl);
    env = runtimeTestEnv(engines, runId, {
      RUNTIME_LEASE_TTL_MS: String(TTL_MS),
      RECONCILE_INTERVAL_MS: "3000",
    });
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    watcher = watch();
  }, 180_000);
  afterAll(async () => {
    watching = false;
    await watcher;
    for (const child of processes) {
      child.child.kill("SIGCONT");
      await child.stop();
    }
    await db?.end();
    await publisher?.close();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  let a: Runtime;
  let b: Runtime;

  it("spreads instances over two runtimes; a killed one's are adopted by the survivor, once", async () => {
    a = await startRuntime("rt-a");
    b = await startRuntime("rt-b");
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await createInstance(`lease-${runId}-${i}`));
    const ids = first.map((i) => i.id);
    const before = await ownedAndRunning(b.port, ids, ["rt-a", "rt-b"]);
    const ownedByA = before.filter((w) => w.owner === "rt-a").map((w) => w.instanceId);
    const ownedByB = before.filter((w) => w.owner === "rt-b").map((w) => w.instanceId);
    // Placement: each new instance went to the least loaded live runtime.
    expect(ownedByA.length, "instances placed on rt-a").toBeGreaterThanOrEqual(2);
    expect(ownedByB.length, "instances placed on rt-b").toBeGreaterThanOrEqual(2);
    const containerBefore = new Map(before.map((w) => [w.instanceId, w.containerId]));
    for (const w of before) expect(w.containerId, w.instanceId).not.toBe("");

    // Any runtime answers for any instance: rt-a hands rt-b's on to it.
    const handedOn = await runtimeClient(a.port).resolveEndpoint({ instanceId: ownedByB[0]! });
    const direct = await runtimeClient(b.port).resolveEndpoint({ instanceId: ownedByB[0]! });
    expect(handedOn.url).toBe(direct.url);

    a.process.child.kill("SIGKILL");
    const killedAt = Date.now();
    // Changes during the hand-over: a create, and a delete of one of the dead runtime's instances.
    const added = await createInstance(`lease-${runId}-added`);
    const deleted = ownedByA[0]!;
    await deleteInstance(deleted);
    const orphaned = ownedByA.filter((id) => id !== deleted);

    const after = await ownedAndRunning(b.port, orphaned, ["rt-b"], HANDOVER_BOUND_MS + 30_000);
    const handover = Date.now() - killedAt;
    console.info(`hand-over: ${orphaned.length} workloads owned by rt-b ${handover} ms after kill`);
    expect(handover, "ms from the kill to every orphan owned again").toBeLessThan(
      HANDOVER_BOUND_MS,
    );
    // Adopted, not replaced: the same container, and no other was ever seen for it.
    for (const w of after) {
      expect(w.containerId, `container of ${w.instanceId}`).toBe(containerBefore.get(w.instanceId));
      expect([...(seen.get(w.instanceId) ?? [])], `containers ever of ${w.instanceId}`).toEqual([
        containerBefore.get(w.instanceId),
      ]);
    }
    // The create and the delete of the hand-over were applied, once each.
    const [addedNow] = await ownedAndRunning(b.port, [added.id], ["rt-b"]);
    expect(addedNow!.restartCount).toBe(0);
    await waitFor("the deleted instance's container to go", async () =>
      (await workload(b.port, deleted)) === null &&
      !(await containersOfRun()).some((c) => c.Labels["berth.instance"] === deleted)
        ? true
        : undefined,
    );
    expect(
      seen.get(added.id)?.size,
      "containers ever of the instance created in the hand-over",
    ).toBe(1);
    // The adopted stdio server answers through the survivor's bridge.
    const endpoint = await runtimeClient(b.port).resolveEndpoint({ instanceId: orphaned[0]! });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    const echoed = await mcp.callTool({ name: "echo", arguments: { message: "adopted" } });
    expect(echoed.content).toEqual([{ type: "text", text: "Echo: adopted" }]);
    await mcp.close();
    expect(duplicates, "instances seen with two containers at once").toEqual([]);
  }, 600_000);

  it("a runtime paused past its lease does not act on its former workloads when it resumes", async () => {
    const c = await startRuntime("rt-c");
    // rt-b owns every instance so far: new ones go to the least loaded, rt-c.
    const kept = await createInstance(`lease-${runId}-kept`);
    const stopped = await createInstance(`lease-${runId}-stopped`);
    const ids = [kept.id, stopped.id];
    const mine = await ownedAndRunning(b.port, ids, ["rt-c"]);
    const containerBefore = new Map(mine.map((w) => [w.instanceId, w.containerId]));

    c.process.child.kill("SIGSTOP");
    await ownedAndRunning(b.port, ids, ["rt-b"], HANDOVER_BOUND_MS + 30_000);
    // While rt-c sleeps, its new owner stops one of them: its container goes. Unfenced, rt-c
    // would see the stdio stream end on resuming and start the server again.
    const instance = { ...stopped, revision: 2n };
    await publisher.publish(
      McpServerInstanceStoppedSchema,
      create(McpServerInstanceStoppedSchema, { instance }),
      2,
      stopped.id,
    );
    await waitFor("rt-b to stop the instance", async () => {
      const w = await workload(b.port, stopped.id);
      const present = (await containersOfRun()).some(
        (x) => x.Labels["berth.instance"] === stopped.id && x.State === "running",
      );
      return w?.state === WorkloadState.STOPPED && !present ? true : undefined;
    });

    c.process.child.kill("SIGCONT");
    // rt-c finds its lease expired and registers again (a second row of its name).
    await waitFor(
      "rt-c to notice its lease ran out",
      async () => {
        const { rows } = await db.query(
          `select count(*)::int as n from runtime.runtimes where name = 'rt-c'`,
        );
        return rows[0].n >= 2 ? true : undefined;
      },
      60_000,
    );
    // Several of its beats and a reconcile pass later, nothing it used to own changed.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 2));
    const keptNow = await workload(b.port, kept.id);
    expect(keptNow?.owner).toBe("rt-b");
    expect(keptNow?.containerId).toBe(containerBefore.get(kept.id));
    expect([...(seen.get(kept.id) ?? [])]).toEqual([containerBefore.get(kept.id)]);
    const stoppedNow = await workload(b.port, stopped.id);
    expect(stoppedNow?.owner).toBe("rt-b");
    expect(stoppedNow?.state).toBe(WorkloadState.STOPPED);
    const running = (await containersOfRun()).filter(
      (x) => x.Labels["berth.instance"] === stopped.id && x.State === "running",
    );
    expect(running, "containers of the stopped instance after rt-c resumed").toEqual([]);
    expect(c.process.output().stdout + c.process.output().stderr).toMatch(
      /runtime lease expired before it was renewed/,
    );
    expect(duplicates, "instances seen with two containers at once").toEqual([]);
  }, 600_000);
});
