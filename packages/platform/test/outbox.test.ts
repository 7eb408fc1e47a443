import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort, startNats, useEngines } from "@berth/testkit";

// The outage test runs a NATS server of its own, with one user.
const OWN_USER = { user: "outage", password: "outage-test-password-0123456789" };
const OWN_USERS = [{ ...OWN_USER, publish: [">"], subscribe: [">"] }];

import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { context, propagation, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withCorrelationId } from "../src/context/request-context.js";
import { createDatabase } from "../src/db/index.js";
import {
  connectNats,
  createOutboxRelay,
  decodeEnvelope,
  ensureStreams,
  type OutboxRelay,
  recordEvent,
} from "../src/events/index.js";
import { serverCreated } from "./events-fixtures.js";
import { memoryLogger, storedMessages, waitFor } from "./helpers.js";

const STREAM = "BERTH_REGISTRY";
const { logger } = memoryLogger();

async function record(orm: MikroORM, name: string): Promise<string> {
  const envelope = serverCreated(name);
  await orm.em.fork().transactional(async (em) => recordEvent(em, envelope));
  return envelope.eventId;
}

async function unsent(orm: MikroORM, schema: string): Promise<string[]> {
  const rows = await orm.em
    .fork()
    .execute<{ id: string }[]>(
      `select id from "${schema}".outbox where sent_at is null order by seq`,
    );
  return rows.map((row) => row.id);
}

describe("transactional outbox", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let orm: MikroORM;
  let nc: NatsConnection;
  let relay: OutboxRelay;

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    engines = await useEngines();
    orm = await createDatabase({
      url: engines.databaseUrl,
      schema: "outbox_test",
      entities: [],
      migrations: [],
      logger,
      withOutbox: true,
    });
    nc = await connectNats(engines.natsUrl, "outbox-test");
    await ensureStreams(nc);
    relay = createOutboxRelay({ orm, nc, logger, pollIntervalMs: 200 });
    relay.start();
  });
  afterAll(async () => {
    await relay?.stop();
    await nc?.drain();
    await orm?.close(true);
    await engines?.cleanup();
    context.disable();
    propagation.disable();
  });

  it("publishes a committed event once, with Nats-Msg-Id = event id, trace context and correlation id", async () => {
    const span = trace.wrapSpanContext({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
    });
    const eventId = await context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
      withCorrelationId("corr-outbox-1", () => record(orm, "first")),
    );
    relay.kick();
    expect(await waitFor(async () => (await unsent(orm, "outbox_test")).length === 0)).toBe(true);
    const messages = (await storedMessages(nc, STREAM)).filter(
      (m) => decodeEnvelope(m.data).eventId === eventId,
    );
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message?.subject).toBe("berth.registry.server.created");
    expect(message?.header.get("Nats-Msg-Id")).toBe(eventId);
    expect(message?.header.get("traceparent")).toBe(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    expect(message?.header.get("x-correlation-id")).toBe("corr-outbox-1");
  });

  it("never publishes an event recorded in a rolled-back transaction", async () => {
    const rolledBack = serverCreated("rolled-back");
    await expect(
      orm.em.fork().transactional(async (em) => {
        recordEvent(em, rolledBack);
        await em.flush();
        throw new Error("business rule failed");
      }),
    ).rejects.toThrow("business rule failed");
    const committed = await record(orm, "committed");
    relay.kick();
    expect(await waitFor(async () => (await unsent(orm, "outbox_test")).length === 0)).toBe(true);
    const ids = (await storedMessages(nc, STREAM)).map((m) => decodeEnvelope(m.data).eventId);
    expect(ids).toContain(committed);
    expect(ids).not.toContain(rolledBack.eventId);
  });

  it("yields one message when the relay dies after publishing and before marking the row sent", async () => {
    await relay.stop(); // only the child relays until it crashes
    const eventId = await record(orm, "crash-after-publish");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "fixtures/relay-until-crash.ts"),
        engines.databaseUrl,
        engines.natsUrl,
        "outbox_test",
      ],
      { env: { ...process.env, BERTH_FAILPOINTS: "outbox.after-publish" }, stdio: "ignore" },
    );
    const signal = await new Promise((resolve) => child.once("exit", (_code, sig) => resolve(sig)));
    expect(signal).toBe("SIGKILL");
    expect(await unsent(orm, "outbox_test")).toEqual([eventId]);
    const copiesOf = async () =>
      (await storedMessages(nc, STREAM)).filter((m) => decodeEnvelope(m.data).eventId === eventId);
    expect(await copiesOf()).toHaveLength(1); // published before the crash, then republished below
    relay = createOutboxRelay({ orm, nc, logger, pollIntervalMs: 200 });
    relay.start();
    expect(await waitFor(async () => (await unsent(orm, "outbox_test")).length === 0)).toBe(true);
    expect(await copiesOf()).toHaveLength(1);
  });

  it("catches up in order, losing nothing, after NATS was away for a few seconds", async () => {
    const storeDir = await mkdtemp(join(tmpdir(), "berth-outage-"));
    const port = await findFreePort();
    let server = await startNats({ storeDir, port, users: OWN_USERS });
    const ownNc = await connectNats(server.url, "outage-test", "NATS_URL", {
      user: OWN_USER.user,
      pass: OWN_USER.password,
    });
    const ownRelay = createOutboxRelay({
      orm,
      nc: ownNc,
      logger,
      pollIntervalMs: 200,
      maxBackoffMs: 1_000,
      publishTimeoutMs: 1_000,
    });
    try {
      await ensureStreams(ownNc, [STREAM]);
      await relay.stop(); // the shared relay must not drain this outbox meanwhile
      ownRelay.start();
      await server.stop();
      const recorded: string[] = [];
      for (let i = 0; i < 5; i++) recorded.push(await record(orm, `during-outage-${i}`));
      ownRelay.kick();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await unsent(orm, "outbox_test")).toEqual(recorded);
      // Nothing was tried while the connection was down: a publish then waits in the client's
      // buffer and times out after the reconnect, delaying the catch-up by its whole timeout.
      const [tried] = await orm.em
        .fork()
        .execute<{ attempts: number }[]>(
          `select coalesce(max(attempts), 0) as attempts from "outbox_test".outbox where sent_at is null`,
        );
      expect(Number(tried?.attempts)).toBe(0);
      server = await startNats({ storeDir, port, users: OWN_USERS });
      expect(
        await waitFor(async () => (await unsent(orm, "outbox_test")).length === 0, 20_000),
      ).toBe(true);
      const ids = (await storedMessages(ownNc, STREAM)).map((m) => decodeEnvelope(m.data).eventId);
      expect(ids).toEqual(recorded);
    } finally {
      await ownRelay.stop();
      await ownNc.close();
      await server.stop();
      await rm(storeDir, { recursive: true, force: true });
    }
  });
});
