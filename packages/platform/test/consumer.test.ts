import type { McpServerCreated } from "@berth/proto/gen/berth/events/v1/events_pb";
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
  type ConsumedEvent,
  connectNats,
  createEventConsumer,
  type EventConsumer,
  encodeEnvelope,
  ensureStreams,
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
const DURABLE = "consumer-test";

describe("event consumer", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let orm: MikroORM;
  let nc: NatsConnection;
  let consumer: EventConsumer;
  const { logger, lines } = memoryLogger();
  const calls: Array<{ name: string; redelivered: boolean; correlationId?: string }> = [];
  const failOnce = new Set<string>();

  async function handler(event: ConsumedEvent): Promise<void> {
    const server = (event.payload as McpServerCreated).server;
    const name = server?.name ?? "";
    calls.push({ name, redelivered: event.redelivered, correlationId: currentCorrelationId() });
    await event.em?.execute(`insert into "effects" (server_id) values (?)`, [server?.id]);
    if (name.startsWith("poison")) throw new Error("cannot apply this event");
    if (failOnce.delete(name)) throw new Error("transient failure");
  }

  const effectsOf = async (serverId: string) =>
    (
      await orm.em
        .fork()
        .execute<unknown[]>(`select 1 from "effects" where server_id = ?`, [serverId])
    ).length;
  const callsOf = (name: string) => calls.filter((call) => call.name === name);
  const publish = async (
    envelope: ReturnType<typeof serverCreated>,
    msgID: string,
    correlationId = "",
  ) => {
    const h = headers();
    if (correlationId) h.set("x-correlation-id", correlationId);
    await jetstream(nc).publish("berth.registry.server.created", encodeEnvelope(envelope), {
      msgID,
      headers: h,
    });
  };
  const start = () => {
    consumer = createEventConsumer({
      nc,
      stream: STREAM,
      durable: DURABLE,
      filterSubjects: ["berth.registry.server.*"],
      logger,
      orm,
      handler,
      maxDeliver: 3,
      retryDelayMs: 50,
    });
    return consumer.start();
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

  it("gives a poison message up after maxDeliver and logs it without payload values", async () => {
    const envelope = serverCreated("poison", "payload-detail-not-for-logs");
    await publish(envelope, envelope.eventId);
    expect(await waitFor(() => lines.some((line) => line.includes("given up")))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(callsOf("poison")).toHaveLength(3);
    expect(await effectsOf(envelope.aggregateId)).toBe(0);
    expect(lines.join("\n")).not.toContain("payload-detail-not-for-logs");
  });

  it("applies nothing twice when the durable consumer is replayed from the start", async () => {
    await consumer.stop();
    const before = calls.length;
    await (await jetstreamManager(nc)).consumers.delete(STREAM, DURABLE);
    await start();
    const info = async () => (await jetstreamManager(nc)).consumers.info(STREAM, DURABLE);
    expect(
      await waitFor(
        async () => (await info()).num_pending === 0 && (await info()).num_ack_pending === 0,
      ),
    ).toBe(true);
    // Only the poison event, never applied, reaches the handler again.
    const replayed = calls.slice(before).map((call) => call.name);
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.every((name) => name === "poison")).toBe(true);
    const twice = serverCreated("after-replay");
    await publish(twice, twice.eventId);
    expect(await waitFor(() => callsOf("after-replay").length === 1)).toBe(true);
  });
});
