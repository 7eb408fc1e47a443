import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { McpServerCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { useEngines } from "@berth/testkit";
import type { MigrationObject } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import type { MikroORM } from "@mikro-orm/postgresql";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentCorrelationId } from "../src/context/request-context.js";
import { createDatabase } from "../src/db/index.js";
import {
  connectNats,
  createEventConsumer,
  createEventListener,
  type EventConsumer,
  type EventConsumerOptions,
  encodeEnvelope,
  ensureStreams,
  listDeadLetters,
  poison,
  replayDeadLetter,
} from "../src/events/index.js";
import { serverCreated } from "./events-fixtures.js";
import { memoryLogger, waitFor } from "./helpers.js";

class CreateEffects extends Migration {
  override up(): void {
    this.addSql(
      `create table "effects" ("server_id" uuid not null, "applied_at" timestamptz not null default now())`,
    );
  }
}
const migrations: MigrationObject[] = [{ name: "effects-v1", class: CreateEffects }];
const STREAM = "BERTH_REGISTRY";
const SUBJECT = "berth.registry.server.created";
const NAME = "consumer-test";
const DURABLE = `test-${NAME}`;

describe("event consumer", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let orm: MikroORM;
  let nc: NatsConnection;
  let consumer: EventConsumer;
  const { logger, lines } = memoryLogger();
  const calls: Array<{ name: string; redelivered: boolean; correlationId?: string }> = [];
  /** The transaction (its forked EntityManager) each handler call ran in, by event name. */
  const transactions = new Map<string, object>();
  const failOnce = new Set<string>();
  const refuse = new Set<string>(["refused"]);
  const slow = new Set<string>();
  // Handlers of these names wait until the test opens their gate; entered says who got that far.
  const gates = new Map<string, { open: () => void; opened: Promise<void> }>();
  const entered: string[] = [];
  const gate = (name: string) => {
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    gates.set(name, { open, opened });
  };

  const effectsOf = async (serverId: string) =>
    (
      await orm.em
        .fork()
        .execute<unknown[]>(`select 1 from "effects" where server_id = ?`, [serverId])
    ).length;
  const callsOf = (name: string) => calls.filter((call) => call.name === name);
  const publishBytes = async (bytes: Uint8Array, msgID: string, correlationId = "") => {
    const h = headers();
    if (correlationId) h.set("x-correlation-id", correlationId);
    await jetstream(nc).publish(SUBJECT, bytes, { msgID, headers: h });
  };
  const publish = (envelope: ReturnType<typeof serverCreated>, msgID: string, corr = "") =>
    publishBytes(encodeEnvelope(envelope), msgID, corr);
  const deadLetters = async () =>
    (await listDeadLetters(nc, { pageSize: 100, service: "test" })).deadLetters;
  const consumerInfo = async () => (await jetstreamManager(nc)).consumers.info(STREAM, DURABLE);
  const settled = async () =>
    waitFor(async () => {
      const info = await consumerInfo();
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });

  const create = (overrides: Partial<EventConsumerOptions> = {}) =>
    createEventConsumer(
      {
        nc,
        orm,
        logger,
        service: "test",
        name: NAME,
        maxDeliver: 3,
        retryDelayMs: 50,
        ...overrides,
      },
      (events) =>
        events.on(McpServerCreatedSchema, async ({ server }, { em, redelivered }) => {
          const name = server?.name ?? "";
          calls.push({ name, redelivered, correlationId: currentCorrelationId() });
          transactions.set(name, em);
          await em.execute(`insert into "effects" (server_id) values (?)`, [server?.id]);
          if (slow.has(name)) await new Promise((resolve) => setTimeout(resolve, 1_500));
          if (gates.has(name)) {
            entered.push(name);
            await gates.get(name)!.opened;
          }
          if (refuse.has(name)) poison("server.name: refused by this handler");
          if (name.startsWith("failing")) throw new Error("cannot apply this event");
          if (failOnce.delete(name)) throw new Error("transient failure");
        }),
    );
  const start = async (overrides: Partial<EventConsumerOptions> = {}) => {
    consumer = create(overrides);
    await consumer.start();
  };

  beforeAll(async () => {
    engines = await useEngines();
    orm = await createDatabase({
      url: engines.databaseUrl,
      schema: "consumer_test",
      entities: [],
      migrations,
      logger,
      withInbox: true,
    });
    nc = await connectNats(engines.natsUrl, "consumer-test");
    await ensureStreams(nc);
    await start();
  });
  afterAll(async () => {
    await consumer?.stop();
    await nc?.drain();
    await orm?.close(true);
    await engines?.cleanup();
  });

  it("applies the same event published twice (different msg ids) only once", async () => {
    const envelope = serverCreated("twice");
    await publish(envelope, "copy-1", "corr-twice");
    await publish(envelope, "copy-2", "corr-twice");
    expect(await waitFor(() => callsOf("twice").length === 1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500)); // room for a wrong second effect
    expect(await effectsOf(envelope.aggregateId)).toBe(1);
    expect(callsOf("twice")[0]?.correlationId).toBe("corr-twice");
  });

  it("retries a failed handler and keeps only the effect of the attempt that committed", async () => {
    failOnce.add("flaky");
    const envelope = serverCreated("flaky");
    await publish(envelope, envelope.eventId);
    expect(await waitFor(() => callsOf("flaky").length === 2)).toBe(true);
    expect(callsOf("flaky").map((call) => call.redelivered)).toEqual([false, true]);
    expect(await waitFor(async () => (await effectsOf(envelope.aggregateId)) === 1)).toBe(true);
  });

  it("moves an event that keeps failing to the dead letters after maxDeliver, logging no payload", async () => {
    const envelope = serverCreated("failing", "payload-detail-not-for-logs");
    await publish(envelope, envelope.eventId);
    expect(
      await waitFor(async () => (await deadLetters()).some((d) => d.eventId === envelope.eventId)),
    ).toBe(true);
    const letter = (await deadLetters()).find((d) => d.eventId === envelope.eventId);
    expect(letter).toMatchObject({
      service: "test",
      consumer: NAME,
      subject: SUBJECT,
      reason: "handler failed 3 times: cannot apply this event",
      deliveries: 3,
      aggregateId: envelope.aggregateId,
    });
    expect(callsOf("failing")).toHaveLength(3);
    expect(await effectsOf(envelope.aggregateId)).toBe(0);
    expect(await settled()).toBe(true);
    expect(lines.join("\n")).not.toContain("payload-detail-not-for-logs");
  });

  it("dead-letters poison without calling the handler: bad bytes, non-UUID ids, a foreign payload", async () => {
    const before = calls.length;
    const badAggregate = serverCreated("bad-aggregate");
    badAggregate.aggregateId = "../../etc";
    const badEventId = serverCreated("bad-event-id");
    badEventId.eventId = "not-a-uuid";
    const wrongType = serverCreated("wrong-type");
    wrongType.eventType = "berth.events.v1.McpServerDeleted";
    await publishBytes(new TextEncoder().encode("{not protobuf"), randomUUID());
    await publish(badAggregate, randomUUID());
    await publish(badEventId, randomUUID());
    await publish(wrongType, randomUUID());
    const reasons = async () => (await deadLetters()).map((d) => d.reason);
    expect(
      await waitFor(
        async () => (await reasons()).filter((r) => !r.startsWith("handler")).length >= 4,
      ),
    ).toBe(true);
    const all = await reasons();
    expect(all.some((r) => r.startsWith("envelope: event envelope is not valid protobuf"))).toBe(
      true,
    );
    expect(all).toContain("aggregate_id: not a UUID");
    // What the envelope says of itself is kept for operators, even when it is refused.
    const refused = (await deadLetters()).find((d) => d.reason === "aggregate_id: not a UUID");
    expect(refused).toMatchObject({ eventId: badAggregate.eventId, aggregateId: "../../etc" });
    expect(all).toContain("event_id: not a UUID");
    expect(all).toContain(
      'event_type: "berth.events.v1.McpServerDeleted" is not the type of its subject (berth.events.v1.McpServerCreated)',
    );
    expect(calls.length).toBe(before);
    expect(await settled()).toBe(true); // acknowledged: nothing blocks the consumer
  });

  it("dead-letters what a handler calls poison, with no effect, and replays it on request", async () => {
    const envelope = serverCreated("refused");
    await publish(envelope, envelope.eventId, "corr-refused");
    const letterOf = async () => (await deadLetters()).find((d) => d.eventId === envelope.eventId);
    expect(await waitFor(async () => (await letterOf()) !== undefined)).toBe(true);
    const letter = await letterOf();
    expect(letter?.reason).toBe("server.name: refused by this handler");
    expect(letter?.deliveries).toBe(1); // poison is not retried
    expect(await effectsOf(envelope.aggregateId)).toBe(0); // the handler's insert rolled back

    refuse.delete("refused"); // the fix is deployed: the replay applies it
    const replayed = await replayDeadLetter(nc, Number(letter?.id));
    expect(replayed?.eventId).toBe(envelope.eventId);
    expect(await waitFor(async () => (await effectsOf(envelope.aggregateId)) === 1)).toBe(true);
    expect(callsOf("refused").at(-1)?.correlationId).toBe("corr-refused"); // headers kept
    expect(await letterOf()).toBeUndefined();
    expect(await replayDeadLetter(nc, Number(letter?.id))).toBeUndefined();
  });

  it("hands delivered events back within seconds when it stops, instead of holding them to the deadline", async () => {
    await consumer.stop();
    // One at a time: the three behind slow-first are still undelivered or waiting when it stops.
    await start({ ackWaitMs: 30_000, concurrency: 1 });
    slow.add("slow-first");
    const first = serverCreated("slow-first");
    const names = ["behind-1", "behind-2", "behind-3"];
    const rest = names.map((name) => serverCreated(name));
    for (const envelope of [first, ...rest]) await publish(envelope, envelope.eventId);
    expect(await waitFor(() => callsOf("slow-first").length === 1)).toBe(true);
    await consumer.stop(); // finishes slow-first; the three behind it go back to the stream
    const stoppedAt = Date.now();
    await start({ ackWaitMs: 30_000 });
    expect(await waitFor(() => names.every((name) => callsOf(name).length > 0), 5_000)).toBe(true);
    const elapsed = Date.now() - stoppedAt;
    console.log(`events handed back on stop were taken by the next consumer in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(5_000); // the ack deadline is 30 s
    expect(callsOf("slow-first")).toHaveLength(1); // it finished before stop returned
    await consumer.stop();
    await start();
  });

  it("handles events of different aggregates at once, and one aggregate's events in stream order", async () => {
    expect(await settled()).toBe(true);
    // Four aggregates, each handler held open: all four are in handlers at the same time.
    const apart = ["apart-1", "apart-2", "apart-3", "apart-4"];
    for (const name of apart) gate(name);
    for (const name of apart) {
      const envelope = serverCreated(name);
      await publish(envelope, envelope.eventId);
    }
    const allIn = await waitFor(() => apart.every((name) => entered.includes(name)), 10_000);
    for (const name of apart) gates.get(name)!.open();
    expect(allIn, `in handlers at once: ${entered.join(", ")}`).toBe(true);
    expect(await settled()).toBe(true);

    // One aggregate, three events: the second waits for the first however long it takes.
    const id = randomUUID();
    const same = ["same-1", "same-2", "same-3"];
    gate("same-1");
    for (const name of same) {
      const envelope = serverCreated(name, "", id);
      await publish(envelope, envelope.eventId);
    }
    expect(await waitFor(() => entered.includes("same-1"))).toBe(true);
    // Held for longer than the ack deadline (5 s): the ones waiting behind it are not redelivered.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(callsOf("same-2")).toHaveLength(0);
    gates.get("same-1")!.open();
    expect(await settled()).toBe(true);
    expect(calls.filter((c) => c.name.startsWith("same-")).map((c) => c.name)).toEqual(same);
    expect(calls.filter((c) => c.name.startsWith("same-")).some((c) => c.redelivered)).toBe(false);
  });

  it("applies a batch in one transaction, each event once and in its aggregate's order; a bad one fails only itself", async () => {
    expect(await settled()).toBe(true);
    await consumer.stop();
    refuse.add("batch-refused");
    // Published while nobody consumes: the consumer then finds them all waiting.
    const aggregates = Array.from({ length: 12 }, () => randomUUID());
    const badIds: string[] = [];
    for (const [a, id] of aggregates.entries()) {
      for (const n of [1, 2]) {
        const envelope = serverCreated(`batch-${a}-${n}`, "", id);
        await publish(envelope, envelope.eventId, `corr-batch-${a}-${n}`);
      }
      if (a === 4) {
        const bad = serverCreated("batch-refused");
        await publish(bad, bad.eventId);
        const failing = serverCreated("failing-batch");
        await publish(failing, failing.eventId);
        badIds.push(bad.eventId, failing.eventId);
      }
    }
    await start({ batch: 16 });
    const names = aggregates.flatMap((_, a) => [`batch-${a}-1`, `batch-${a}-2`]);
    const letters = async () =>
      (await deadLetters()).filter((d) => badIds.includes(d.eventId ?? "")).map((d) => d.reason);
    expect(
      await waitFor(async () => {
        const reasons = await letters();
        return (
          reasons.some((r) => r.includes("refused by this handler")) &&
          reasons.some((r) => r.includes("cannot apply this event")) &&
          names.every((name) => callsOf(name).length > 0)
        );
      }, 30_000),
      "every good event applied and both bad ones dead-lettered",
    ).toBe(true);
    expect(await settled()).toBe(true);
    // Exactly once: the second event of each aggregate left one more row, no more.
    for (const id of aggregates) expect(await effectsOf(id)).toBe(2);
    // In each aggregate's order, among the calls that committed (the last call of each name).
    const order = calls.map((c) => c.name);
    for (const a of aggregates.keys()) {
      expect(order.lastIndexOf(`batch-${a}-1`)).toBeLessThan(order.lastIndexOf(`batch-${a}-2`));
    }
    // Each handler ran in its own event's context, batch or not.
    for (const name of names) {
      expect(callsOf(name).at(-1)?.correlationId, name).toBe(`corr-${name}`);
    }
    // Batched: the 24 good events ran in fewer transactions than events.
    const distinct = new Set(names.map((name) => transactions.get(name)));
    expect(distinct.size).toBeLessThan(names.length);
    await consumer.stop();
    await start();
  });

  it("redelivers within seconds an event whose consumer process was killed -9 while holding it", async () => {
    expect(await settled()).toBe(true);
    await consumer.stop();
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "fixtures/hold-events.ts"),
        engines.databaseUrl,
        engines.natsUrl,
        "consumer_test",
        NAME,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const output: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => output.push(...chunk.toString().split("\n")));
    const exited = new Promise((resolve) => child.once("exit", (_code, sig) => resolve(sig)));
    try {
      expect(await waitFor(() => output.includes("ready"), 20_000)).toBe(true);
      const envelope = serverCreated("held-by-the-dead");
      await publish(envelope, envelope.eventId);
      expect(await waitFor(() => output.includes(`held ${envelope.eventId}`))).toBe(true);
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      const killedAt = Date.now();
      await start(); // the default ack deadline (5 s) applies
      expect(await waitFor(async () => (await effectsOf(envelope.aggregateId)) === 1, 15_000)).toBe(
        true,
      );
      const elapsed = Date.now() - killedAt;
      console.log(`event held by a killed consumer was applied by a new one ${elapsed} ms later`);
      expect(elapsed).toBeLessThan(8_000);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("applies nothing twice when the durable consumer is replayed from the start", async () => {
    await consumer.stop();
    const before = calls.length;
    await (await jetstreamManager(nc)).consumers.delete(STREAM, DURABLE);
    await start();
    expect(await settled()).toBe(true);
    // Only events never applied come back: the failing ones, and the batch test's event its
    // handler called poison (invalid events never reach a handler).
    const neverApplied = new Set(["failing", "failing-batch", "batch-refused"]);
    const replayed = calls.slice(before).map((call) => call.name);
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.filter((name) => !neverApplied.has(name))).toEqual([]);
    const after = serverCreated("after-replay");
    await publish(after, after.eventId);
    expect(await waitFor(() => callsOf("after-replay").length === 1)).toBe(true);
  });

  it("stops a listener stopped just after it started, while its consumer is still being opened", async () => {
    // A service stopped right after start (a failed deploy, a test) must not hang in stop().
    const seen: string[] = [];
    const listener = createEventListener(
      { nc, logger, service: "test", name: "stop-early" },
      (events) =>
        events.on(McpServerCreatedSchema, ({ server }) => void seen.push(server?.name ?? "")),
    );
    await listener.start(); // a listener opens its consumer in the background
    await expect(listener.stop()).resolves.toBeUndefined();
    // It can be started again afterwards and then receives new events.
    await listener.start();
    const after = serverCreated("after-early-stop");
    await waitFor(async () => {
      await publish(after, randomUUID());
      return seen.includes("after-early-stop");
    });
    await listener.stop();
    expect(seen).toContain("after-early-stop");
  });
});
