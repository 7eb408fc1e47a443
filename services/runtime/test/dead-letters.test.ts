import { randomUUID } from "node:crypto";
import { listDeadLetters, replayDeadLetter } from "@berth/platform";
import { McpServerInstanceCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { connectAs, useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../src/index.js";
import {
  createPublisher,
  type EventPublisher,
  instanceSnapshot,
  newRunId,
  removeLeftovers,
  runtimeTestEnv,
  startTestRuntime,
  waitFor,
} from "./support/runtime-harness.js";

// Forged and malformed instance events must never become workloads (a workload the API cannot
// delete): the runtime's consumer moves them to the dead letters with a reason, keeps consuming,
// and a replay hands them to it again.
describe("runtime: poison instance events go to the dead letters", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let runtime: Runtime;
  let publisher: EventPublisher;
  let nc: NatsConnection;
  let db: pg.Client;

  beforeAll(async () => {
    engines = await useEngines();
    runtime = await startTestRuntime(runtimeTestEnv(engines, runId));
    publisher = await createPublisher(engines.natsUrl);
    nc = await connectAs(engines.natsUrl);
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await nc?.close();
    await publisher?.close();
    await runtime?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  const workloadRows = async () =>
    (await db.query("select instance_id from runtime.workloads")).rows.map((r) => r.instance_id);
  const letters = async () =>
    (await listDeadLetters(nc, { pageSize: 100, service: "runtime" })).deadLetters;
  const letterFor = (aggregateId: string, count = 1) =>
    waitFor(`a dead letter for ${aggregateId}`, async () => {
      const found = (await letters()).filter((d) => d.aggregateId === aggregateId);
      return found.length >= count ? found.at(-1) : undefined;
    });
  const created = (instance: ReturnType<typeof instanceSnapshot>, aggregateId = instance.id) =>
    publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      aggregateId,
    );

  it("refuses an instance whose id is not a UUID, creating no workload", async () => {
    await created(
      instanceSnapshot({
        id: "not-a-uuid",
        spec: { type: "url", endpoint: "http://127.0.0.1:1/mcp" },
      }),
    );
    const letter = await letterFor("not-a-uuid");
    expect(letter).toMatchObject({
      service: "runtime",
      consumer: "instances",
      subject: "berth.instances.instance.created",
      reason: "aggregate_id: not a UUID",
      eventType: "berth.events.v1.McpServerInstanceCreated",
    });
    expect(await workloadRows()).not.toContain("not-a-uuid");
  });

  it("refuses a spec the runtime cannot parse, keeps consuming, and re-delivers it on replay", async () => {
    const bad = instanceSnapshot({ spec: { type: "docker", transport: "stdio" } }); // no image
    await created(bad);
    const letter = await letterFor(bad.id);
    expect(letter.reason).toMatch(/^invalid json_spec: json_spec\.image /);
    expect(letter.deliveries).toBe(1);

    // The consumer is not blocked: a valid event behind the poison one is applied.
    const good = instanceSnapshot({ spec: { type: "url", endpoint: "http://127.0.0.1:1/mcp" } });
    await created(good);
    await waitFor("the valid instance's workload", async () =>
      (await workloadRows()).includes(good.id) ? true : undefined,
    );
    expect(await workloadRows()).not.toContain(bad.id);

    // A replay delivers it again: still invalid, so it is refused again, and the first letter is gone.
    expect((await replayDeadLetter(nc, Number(letter.id)))?.eventId).toBe(letter.eventId);
    const again = await letterFor(bad.id);
    expect(again.id).not.toBe(letter.id);
    expect(again.eventId).toBe(letter.eventId);
    expect((await letters()).filter((d) => d.aggregateId === bad.id)).toHaveLength(1);
    expect(await workloadRows()).not.toContain(bad.id);
  });

  it("refuses an instance snapshot about another instance than its envelope", async () => {
    const aggregateId = randomUUID();
    await created(
      instanceSnapshot({ spec: { type: "url", endpoint: "http://127.0.0.1:1/mcp" } }),
      aggregateId,
    );
    expect((await letterFor(aggregateId)).reason).toBe(
      "instance.id: differs from the envelope's aggregate_id",
    );
    expect(await workloadRows()).not.toContain(aggregateId);
  });
});
