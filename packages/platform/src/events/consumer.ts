import { AsyncResource } from "node:async_hooks";
import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import { type ConsumerMessages, DeliverPolicy, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../logging/logger.js";
import { sendToDeadLetters } from "./dead-letters.js";
import { ensureDurableConsumer } from "./durable-consumer.js";
import { decodeEnvelope } from "./envelope.js";
import {
  type BoundHandler,
  collectRoutes,
  type EventContext,
  type EventRoutes,
  type InboxEventContext,
} from "./event-routes.js";
import { claimInbox, claimInboxes } from "./inbox.js";
import { isPoisonEvent } from "./poison.js";
import { processInSpan } from "./process-span.js";
import { createRetryTracker, DEFAULT_RETRY_POLICY, settleFailure } from "./retry-policy.js";
import { eventTypeOfSubject, filterSubjectOf } from "./subjects.js";

/** What every consumer of Berth events is told. */
export interface EventConsumerBase {
  nc: NatsConnection;
  logger: Logger;
  /** The consuming service, e.g. "runtime": names its dead letters (berth.dlq.<service>.<name>). */
  service: string;
  /** The consumer's name within the service, e.g. "instances"; the durable is `<service>-<name>`. */
  name: string;
}

/** Options of createEventConsumer. */
export interface EventConsumerOptions extends EventConsumerBase {
  /** The service's database: each event is applied in a transaction guarded by its inbox. */
  orm: MikroORM;
  /**
   * Failed deliveries of an event before it is moved to the dead letters (default 10). Deliveries
   * that failed because a dependency was away (database, a service answering UNAVAILABLE) do not
   * count: they are retried every `outageRetryMs` until it is back.
   */
  maxDeliver?: number;
  /**
   * How long JetStream waits for an ack before handing an event to another consumer (default
   * 5 s): what a consumer that died holding it costs. Long handlers report progress meanwhile.
   */
  ackWaitMs?: number;
  /** First redelivery delay after a handler error; doubles per delivery up to 30 s. */
  retryDelayMs?: number;
  /** Redelivery delay while a dependency is away (default 1 s): the wait after it is back. */
  outageRetryMs?: number;
  /**
   * Events handled at once (default 4), one at a time per aggregate: a backlog (a runtime back
   * from a crash, NATS back from an outage) drains that many times faster than one by one, and
   * no event of an aggregate overtakes an earlier one.
   */
  concurrency?: number;
  /**
   * Events applied in one transaction at most (default 1: each in its own). Above 1 the events in
   * hand are applied together: their inbox rows in one statement, the handlers one after another
   * in delivery order (never two of one aggregate: an aggregate's next event waits for the
   * previous one's commit), one commit, then every ack. Should any of them fail, the whole
   * transaction is rolled back and each is applied again on its own, so a bad event fails only
   * itself (and poison still goes to the dead letters). Concurrency defaults to this size.
   */
  batch?: number;
}

/** A running consumer. */
export interface EventConsumer {
  start(): Promise<void>;
  /** Finishes the event in hand, hands every other delivered one back at once, and stops. */
  stop(): Promise<void>;
}

/** The durable consumer name of a service's consumer. */
export function durableName(service: string, name: string): string {
  return `${service}-${name}`;
}

/**
 * Creates a durable consumer of the events `register` declares handlers for
 * (`events.on(McpServerInstanceCreatedSchema, handler)`): stream, subject and decoding come from
 * the routing table; every event is validated before it is applied, applied at most once (inbox
 * row in the handler's transaction) and acknowledged after commit. Poison events (bad envelope,
 * non-UUID ids, undecodable payload, or a handler's `poison(reason)`) and events that keep failing
 * go to the dead-letter stream with the reason, and are acknowledged.
 */
export function createEventConsumer(
  options: EventConsumerOptions,
  register: (events: EventRoutes<InboxEventContext>) => void,
): EventConsumer {
  const { orm } = options;
  const handlers = collectRoutes(register);
  const durable = durableName(options.service, options.name);
  const ackWaitMs = options.ackWaitMs ?? 5_000;
  const batchMax = Math.max(1, options.batch ?? 1);
  const concurrency = Math.max(1, options.concurrency ?? Math.max(batchMax, DEFAULT_CONCURRENCY));
  const retries = createRetryTracker({
    maxDeliver: options.maxDeliver ?? DEFAULT_RETRY_POLICY.maxDeliver,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_POLICY.retryDelayMs,
    outageRetryMs: options.outageRetryMs ?? DEFAULT_RETRY_POLICY.outageRetryMs,
  });
  type Item = Applying<InboxEventContext>;
  const settle = (items: readonly Item[], after: Array<() => void>) => {
    // Only now: the inbox rows and the handlers' effects are committed.
    for (const { msg } of items) {
      msg.ack();
      retries.settled(msg.info.streamSequence);
    }
    for (const fn of after) {
      try {
        fn();
      } catch (error) {
        options.logger.warn({ err: error, consumer: durable }, "after-commit step failed");
      }
    }
  };
  /** One event in a transaction of its own. */
  async function applyOne(item: Item): Promise<void> {
    const { envelope, run, base } = item;
    const after: Array<() => void> = [];
    await orm.em.fork().transactional(async (em) => {
      if (!(await claimInbox(em, envelope.eventId, durable, envelope.eventType))) {
        base.log.debug({ event_id: envelope.eventId }, "event already applied; skipping");
        return;
      }
      await run({ ...base.ctx, em, afterCommit: (fn) => after.push(fn) });
    });
    settle([item], after);
  }
  /** Several events in one transaction; on any failure each on its own instead. */
  async function applyMany(items: readonly Item[]): Promise<Map<Item, unknown>> {
    const after: Array<() => void> = [];
    try {
      await orm.em.fork().transactional(async (em) => {
        const claimed = await claimInboxes(
          em,
          items.map(({ envelope }) => envelope),
          durable,
        );
        for (const { envelope, run, base } of items) {
          if (!claimed.has(envelope.eventId)) {
            base.log.debug({ event_id: envelope.eventId }, "event already applied; skipping");
            continue;
          }
          await run({ ...base.ctx, em, afterCommit: (fn) => after.push(fn) });
        }
      });
    } catch {
      const outcomes = new Map<Item, unknown>();
      for (const item of items) {
        try {
          await applyOne(item);
        } catch (error) {
          outcomes.set(item, error);
        }
      }
      return outcomes;
    }
    settle(items, after);
    return new Map();
  }
  const batcher = createBatcher(batchMax, applyMany);

  return createRunner(options, handlers, {
    ackWaitMs,
    concurrency,
    failFast: true,
    async open(stream, filter) {
      await ensureDurableConsumer(options.nc, {
        stream,
        durable,
        filterSubjects: [filter],
        // Unlimited on the server: this consumer decides when an event is given up (to the DLQ).
        maxDeliver: -1,
        ackWaitMs,
        // A batching consumer holds many events at once: no more are handed out than two
        // batches' worth, so none waits in a buffer past its ack deadline while batches run.
        ...(batchMax > 1 ? { maxAckPending: 2 * concurrency } : {}),
      });
      const consumer = await jetstream(options.nc).consumers.get(stream, durable);
      // No more than are handled at once: an event delivered to this process but not yet in a
      // handler has no progress acknowledgements, so a deep buffer would let its ack deadline
      // pass (JetStream then delivers it again, and the backlog grows by the copies), and a dead
      // process holds whatever it buffered.
      return consumer.consume({ max_messages: concurrency, expires: PULL_EXPIRES_MS });
    },
    apply(msg, envelope, run, base) {
      if (batchMax === 1) return applyOne({ msg, envelope, run, base });
      // A batch runs outside each event's own async context: its handler is run back inside it
      // (correlation id, trace span), as if it had its own transaction.
      const scope = new AsyncResource("berth.event");
      const inScope = (ctx: InboxEventContext) => scope.runInAsyncScope(run, undefined, ctx);
      return batcher.submit({ msg, envelope, run: inScope, base });
    },
    async refuse(msg, reason, facts, log) {
      await deadLetter(options, msg, reason, facts, log);
    },
    failed(msg, envelope, error, log) {
      const verdict = retries.judge(msg.info.streamSequence, msg.info.deliveryCount, error);
      if (verdict.action === "give-up") {
        retries.settled(msg.info.streamSequence);
        const reason = `handler failed ${verdict.failures} times: ${firstLine(error)}`;
        return deadLetter(options, msg, reason, facts(envelope), log);
      }
      settleFailure(msg, envelope, error, log, verdict);
      return Promise.resolve();
    },
  });
}

/**
 * Creates a non-durable listener of the events `register` declares, from now on (an ordered
 * consumer per stream, re-created by the client after an outage): for caches and notifications
 * that lose nothing when they miss an event. Events are validated like a consumer's; invalid ones
 * are skipped (the durable consumers dead-letter them).
 */
export function createEventListener(
  options: EventConsumerBase,
  register: (events: EventRoutes<EventContext>) => void,
): EventConsumer {
  const handlers = collectRoutes(register);
  return createRunner(options, handlers, {
    ackWaitMs: 30_000,
    // In stream order: a cache applies each change over the one before.
    concurrency: 1,
    // A listener is an optimisation: its service starts without it and it joins when it can.
    failFast: false,
    async open(stream, filter) {
      const consumer = await jetstream(options.nc).consumers.get(stream, {
        // One subject as a string: the client then sends filter_subject, which NATS 2.9 accepts.
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.New,
      });
      return consumer.consume();
    },
    async apply(_msg, _envelope, run, base) {
      await run(base.ctx);
    },
    async refuse(msg, reason, _facts, log) {
      log.debug({ subject: msg.subject, reason }, "invalid event skipped");
    },
    async failed(msg, envelope, error, log) {
      log.warn({ subject: msg.subject, event_id: envelope.eventId, err: error }, "listener failed");
    },
  });
}

/** One event on its way into a transaction. */
interface Applying<Ctx> {
  msg: JsMsg;
  envelope: EventEnvelope;
  run: (ctx: Ctx) => Promise<void>;
  base: { ctx: EventContext; log: Logger };
}

/**
 * Gathers the events submitted while a transaction is running into the next one (up to max):
 * under load the batches grow by themselves, and a lone event waits for nothing. `apply` answers
 * the failure of each item that failed (an item without an entry succeeded).
 */
function createBatcher<T>(
  max: number,
  apply: (items: readonly T[]) => Promise<Map<T, unknown>>,
): { submit(item: T): Promise<void> } {
  const queue: Array<{ item: T; resolve: () => void; reject: (error: unknown) => void }> = [];
  let running = false;
  const next = () => {
    if (running || queue.length === 0) return;
    running = true;
    // Events delivered together (one pull answers many) join the same batch.
    setImmediate(async () => {
      const taken = queue.splice(0, max);
      try {
        const failures = await apply(taken.map((t) => t.item));
        for (const t of taken) {
          if (failures.has(t.item)) t.reject(failures.get(t.item));
          else t.resolve();
        }
      } catch (error) {
        for (const t of taken) t.reject(error);
      } finally {
        running = false;
        next();
      }
    });
  };
  return {
    submit: (item) =>
      new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        next();
      }),
  };
}

interface Mode<Ctx> {
  ackWaitMs: number;
  /** Events in handlers at once (each aggregate's one at a time, in order). */
  concurrency: number;
  /** Whether start() waits for the consumer (and fails with it) or keeps trying in the background. */
  failFast: boolean;
  open(stream: string, filter: string): Promise<ConsumerMessages>;
  apply(
    msg: JsMsg,
    envelope: EventEnvelope,
    run: (ctx: Ctx) => Promise<void>,
    base: { ctx: EventContext; log: Logger },
  ): Promise<void>;
  refuse(msg: JsMsg, reason: string, facts: Facts, log: Logger): Promise<void>;
  failed(msg: JsMsg, envelope: EventEnvelope, error: unknown, log: Logger): Promise<void>;
}

type Facts = { eventId?: string; eventType?: string; aggregateId?: string };

const facts = (envelope: { eventId: string; eventType: string; aggregateId: string }): Facts => ({
  eventId: envelope.eventId,
  eventType: envelope.eventType,
  aggregateId: envelope.aggregateId,
});

/** What an invalid event's envelope says about itself, when it reads at all (for operators). */
function readableFacts(bytes: Uint8Array): Facts {
  try {
    return facts(decodeEnvelope(bytes));
  } catch {
    return {};
  }
}

const DEFAULT_CONCURRENCY = 4;
const RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 5_000;

/**
 * How long one pull request of a durable consumer lives. The server (2.9) still delivers to a
 * closed consumer's pull request until it expires, so events handed back on stop are released
 * just after it: HAND_BACK_DELAY_MS, instead of the whole ack deadline.
 */
const PULL_EXPIRES_MS = 2_000;
const HAND_BACK_DELAY_MS = PULL_EXPIRES_MS + 500;

function createRunner<Ctx extends EventContext>(
  options: EventConsumerBase,
  handlers: Map<string, BoundHandler<Ctx>>,
  mode: Mode<Ctx>,
): EventConsumer {
  const log = options.logger.child({ consumer: durableName(options.service, options.name) });
  const byStream = new Map<string, string[]>();
  for (const handler of handlers.values()) {
    byStream.set(handler.stream, [...(byStream.get(handler.stream) ?? []), handler.subject]);
  }
  let stopping = false;
  let started = false;
  const open = new Set<ConsumerMessages>();
  const loops: Promise<void>[] = [];

  async function handle(msg: JsMsg): Promise<void> {
    if (stopping) {
      // Hand it back: another consumer takes it without waiting for the ack deadline.
      msg.nak(HAND_BACK_DELAY_MS);
      return;
    }
    const typeName = eventTypeOfSubject(msg.subject);
    const handler = typeName ? handlers.get(typeName) : undefined;
    if (!handler) {
      msg.ack(); // another consumer's event on a subject this filter also covers
      return;
    }
    let prepared: ReturnType<BoundHandler<Ctx>["prepare"]>;
    try {
      prepared = handler.prepare(msg.data);
    } catch (error) {
      if (!isPoisonEvent(error)) throw error;
      await mode.refuse(msg, error.reason, readableFacts(msg.data), log);
      return;
    }
    const { envelope } = prepared;
    const ctx: EventContext = {
      envelope,
      subject: msg.subject,
      redelivered: msg.redelivered,
      working: () => msg.working(),
    };
    const progress = setInterval(() => msg.working(), Math.max(500, mode.ackWaitMs / 3));
    const began = Date.now();
    let outcome = "applied";
    try {
      await processInSpan(msg, envelope, () =>
        mode.apply(msg, envelope, (c) => prepared.run(c), { ctx, log }),
      );
    } catch (error) {
      outcome = isPoisonEvent(error) ? "refused" : "failed";
      if (isPoisonEvent(error)) await mode.refuse(msg, error.reason, facts(envelope), log);
      else await mode.failed(msg, envelope, error, log);
    } finally {
      clearInterval(progress);
    }
    // Where an event's time goes: in the stream before this delivery, and in the handler.
    log.debug(
      {
        event_id: envelope.eventId,
        event_type: envelope.eventType,
        delivery: msg.info.deliveryCount,
        since_published_ms: began - Math.round(Number(msg.info.timestampNanos) / 1e6),
        handled_ms: Date.now() - began,
        outcome,
      },
      "event handled",
    );
  }

  async function drain(messages: ConsumerMessages): Promise<void> {
    // Opened while stop() ran: close it, then read it to its end all the same. The client
    // settles close() only once its iterator has been read past the stop, so awaiting close()
    // on an iterator nobody reads never returns (a gateway stopped just after it started hung
    // in stop()); handle() hands back whatever was delivered meanwhile.
    const closing = stopping ? messages.close().catch(() => undefined) : undefined;
    open.add(messages);
    const inFlight = new Set<Promise<void>>();
    // The last task of each aggregate: its next event starts after it.
    const lanes = new Map<string, Promise<void>>();
    try {
      for await (const msg of messages) {
        // Waiting for a free handler or its turn counts as progress: its ack deadline must not
        // pass meanwhile (JetStream would deliver a second copy).
        const waiting = setInterval(() => msg.working(), Math.max(500, mode.ackWaitMs / 3));
        // The next message is read (and the next pull sent) only once a handler is free.
        while (inFlight.size >= mode.concurrency) await Promise.race(inFlight);
        const lane = readableFacts(msg.data).aggregateId;
        const before = lane ? lanes.get(lane) : undefined;
        const task = runAfter(before, msg, waiting).finally(() => {
          inFlight.delete(task);
          if (lane && lanes.get(lane) === task) lanes.delete(lane);
        });
        inFlight.add(task);
        if (lane) lanes.set(lane, task);
      }
    } finally {
      await Promise.all(inFlight);
      open.delete(messages);
    }
    await closing;
  }

  /** Handles msg once `before` (its aggregate's previous event) is done; never rejects. */
  async function runAfter(
    before: Promise<void> | undefined,
    msg: JsMsg,
    waiting: NodeJS.Timeout,
  ): Promise<void> {
    await before;
    clearInterval(waiting);
    await handle(msg).catch((error) => {
      // Nothing settled the message: it comes back after the ack deadline.
      log.error({ err: error, subject: msg.subject }, "event handling failed");
    });
  }

  // Keeps consuming through outages: a failed pull or a lost consumer is opened again.
  async function consume(stream: string, filter: string, first?: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    let failures = 0;
    for (;;) {
      try {
        messages ??= await mode.open(stream, filter);
        failures = 0;
        await drain(messages);
      } catch (error) {
        failures++;
        // Said once per outage, not once per attempt.
        if (!stopping && failures === 1) {
          log.warn({ err: error, stream }, "event consumer interrupted; resuming");
        }
      }
      messages = undefined;
      if (stopping) return;
      const delay = Math.min(
        MAX_RESTART_DELAY_MS,
        RESTART_DELAY_MS * 2 ** Math.max(0, failures - 1),
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping) return;
    }
  }

  return {
    async start() {
      if (started) return;
      started = true;
      stopping = false;
      // Start-up fails when a consumer cannot be created at all: a configuration problem.
      for (const [stream, subjects] of byStream) {
        const filter = filterSubjectOf(subjects);
        const first = mode.failFast ? await mode.open(stream, filter) : undefined;
        loops.push(consume(stream, filter, first));
      }
    },
    async stop() {
      stopping = true;
      // close() lets the iterator yield what is already delivered first: handle() naks it.
      await Promise.all([...open].map((messages) => messages.close().catch(() => undefined)));
      await Promise.all(loops);
      loops.length = 0;
      started = false;
    },
  };
}

async function deadLetter(
  options: EventConsumerBase,
  msg: JsMsg,
  reason: string,
  known: Facts,
  log: Logger,
): Promise<void> {
  const fields = { subject: msg.subject, seq: msg.info.streamSequence, event_id: known.eventId };
  try {
    await sendToDeadLetters(options.nc, msg, {
      service: options.service,
      consumer: options.name,
      reason,
      ...known,
    });
  } catch (error) {
    // Kept, not lost: it comes back and is dead-lettered once JetStream takes it.
    log.error({ ...fields, err: error }, "cannot store a dead letter; event kept");
    msg.nak(5_000);
    return;
  }
  msg.ack();
  log.warn({ ...fields, reason }, "event moved to the dead letters");
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? "";
}
