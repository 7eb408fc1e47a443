import { createServiceClient, loadConfig } from "@berth/platform";
import {
  InstanceStatus,
  InstancesService,
  type McpServerInstance,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { meshIdentity, serviceMeshEnv } from "../../../test/support/mesh.js";
import { type Instances, instancesEnv, startInstances } from "../src/index.js";
import {
  memoryLogger,
  publishStatus,
  query,
  type Stack,
  startStack,
  statusEnvelope,
  waitFor,
} from "./stack.js";

// Two replicas of the instances service on one database and one NATS, as behind a load balancer.
describe("two instances replicas", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let stack: Stack;
  let second: Instances;
  let a: Stack["instancesClient"];
  let b: Stack["instancesClient"];

  beforeAll(async () => {
    engines = await useEngines();
    stack = await startStack(engines, {}, { registry: false });
    second = await startInstances(
      loadConfig(instancesEnv, { ...stack.env, ...serviceMeshEnv("instances", engines) }),
      memoryLogger("instances-b").logger,
    );
    a = stack.instancesClient;
    b = createServiceClient(InstancesService, `127.0.0.1:${second.port}`, {
      identity: meshIdentity("gateway"),
    });
  });
  afterAll(async () => {
    await second?.stop();
    await stack?.stop();
    await engines?.cleanup();
  });

  const createUrl = async (client: typeof a, name: string) =>
    (
      await client.createInstance({
        instance: { name, jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" } },
      })
    ).instance!;

  it("streams to a watch on replica B every change made through replica A, to the deletion", async () => {
    const instance = await createUrl(a, "watched-across");
    const seen: McpServerInstance[] = [];
    const watching = (async () => {
      for await (const message of b.watchInstance({ id: instance.id }, { timeoutMs: 30_000 })) {
        seen.push(message.instance!);
      }
    })();
    expect(await waitFor(() => seen.length === 1), "the first message").toBe(true);
    await a.updateInstance({
      instance: { id: instance.id, description: "changed through A" },
      updateMask: { paths: ["description"] },
    });
    expect(
      await waitFor(() => seen.some((i) => i.description === "changed through A")),
      "B's watch shows the update made through A",
    ).toBe(true);
    // A status report is applied by whichever replica's consumer takes it: B's watch sees it.
    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: instance.id,
          generation: 1n,
          sequence: 1n,
          status: InstanceStatus.RUNNING,
        }),
      },
    ]);
    expect(
      await waitFor(() => seen.some((i) => i.status === InstanceStatus.RUNNING)),
      "B's watch shows the runtime's report",
    ).toBe(true);
    await a.deleteInstance({ id: instance.id });
    expect(
      await waitFor(() => seen.some((i) => i.status === InstanceStatus.DELETING)),
      "B's watch shows the deletion made through A",
    ).toBe(true);
    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: instance.id,
          generation: 1n,
          sequence: 2n,
          status: InstanceStatus.STOPPED,
          removed: true,
        }),
      },
    ]);
    await watching; // ends by itself once the instance is gone
    expect(seen.map((i) => i.status)).toEqual([
      InstanceStatus.PENDING,
      InstanceStatus.PENDING,
      InstanceStatus.RUNNING,
      InstanceStatus.DELETING,
      InstanceStatus.DELETING,
    ]);
    expect(seen.at(-1)?.statusMessage).toBe("workload removed");
  });

  it("streams every instance's changes to WatchInstances on either replica", async () => {
    const controller = new AbortController();
    const streams = [a, b].map((client) => {
      const got: Array<{ name: string; status: InstanceStatus; deleted: boolean }> = [];
      const done = (async () => {
        for await (const message of client.watchInstances({}, { signal: controller.signal })) {
          got.push({
            name: message.instance!.name,
            status: message.instance!.status,
            deleted: message.deleted,
          });
        }
      })().catch(() => undefined);
      return { got, done };
    });
    // The streams subscribe when their calls arrive: a probe changed until both have seen it
    // proves they are listening before the changes under test.
    const probe = await createUrl(b, "probe");
    let touches = 0;
    expect(
      await waitFor(async () => {
        if (streams.every((s) => s.got.some((m) => m.name === "probe"))) return true;
        await a.updateInstance({
          instance: { id: probe.id, description: `touch ${++touches}` },
          updateMask: { paths: ["description"] },
        });
        return false;
      }),
      "both collection watches see the probe",
    ).toBe(true);
    const first = await createUrl(a, "one");
    const other = await createUrl(b, "two");
    await b.stopInstance({ id: first.id });
    await a.deleteInstance({ id: other.id });
    expect(
      await waitFor(() =>
        streams.every((s) =>
          s.got.some((m) => m.name === "two" && m.status === InstanceStatus.DELETING),
        ),
      ),
      "both streams see the deletion before the removal is reported",
    ).toBe(true);
    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: other.id,
          generation: 1n,
          sequence: 1n,
          status: InstanceStatus.STOPPED,
          removed: true,
        }),
      },
    ]);
    const complete = (got: (typeof streams)[number]["got"]) =>
      got.some((m) => m.name === "one" && m.status === InstanceStatus.PENDING) &&
      got.some((m) => m.name === "two" && m.status === InstanceStatus.PENDING) &&
      got.some((m) => m.name === "two" && m.status === InstanceStatus.DELETING) &&
      got.some((m) => m.name === "two" && m.deleted);
    expect(
      await waitFor(() => streams.every((s) => complete(s.got)), 20_000),
      `both streams see creation, deletion and removal: ${JSON.stringify(streams.map((s) => s.got))}`,
    ).toBe(true);
    const stopped = await b.getInstance({ id: first.id });
    for (const { got } of streams) {
      // The stop changed only the desired state: the stream shows "one" after it as well.
      expect(got.filter((m) => m.name === "one").length).toBeGreaterThanOrEqual(2);
      expect(got.findLast((m) => m.name === "two")?.deleted).toBe(true);
    }
    expect(stopped.instance?.name).toBe("one");
    controller.abort();
    await Promise.all(streams.map((s) => s.done));
    await a.deleteInstance({ id: probe.id });
  });

  it("relays every event of both replicas' outboxes exactly once", async () => {
    const names = Array.from({ length: 30 }, (_, i) => `relayed-${i}`);
    const made = await Promise.all(names.map((name, i) => createUrl(i % 2 === 0 ? a : b, name)));
    // Every outbox row is sent (by one relay or the other).
    expect(
      await waitFor(async () => {
        const [row] = await query<{ unsent: string }>(
          engines.databaseUrl,
          "select count(*) as unsent from instances.outbox where sent_at is null",
        );
        return Number(row?.unsent) === 0;
      }, 20_000),
      "every outbox row is marked sent",
    ).toBe(true);
    const outbox = await query<{ id: string }>(
      engines.databaseUrl,
      "select id from instances.outbox",
    );
    const events = await readEvents(engines.natsUrl, "BERTH_INSTANCES", {
      waitMs: 20_000,
      until: (read) => read.length >= outbox.length,
    });
    const ids = events.map((event) => event.envelope.eventId);
    // Each event once in the stream, and nothing in it that is not in an outbox.
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(outbox.map((row) => row.id)));
    // One McpServerInstanceCreated per instance made through either replica.
    const created = events
      .filter((event) => event.subject === "berth.instances.instance.created")
      .map((event) => event.envelope.aggregateId);
    for (const instance of made) {
      expect(
        created.filter((id) => id === instance.id),
        instance.name,
      ).toHaveLength(1);
    }
  });
});
