import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { Message } from "@bufbuild/protobuf";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { type ConsumerMessages, type JsMsg, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../logging/logger.js";
import { readMessage, settleFailure } from "./consumer-message.js";
import { ensureDurableConsumer } from "./durable-consumer.js";
import { claimInbox } from "./inbox.js";
import { processInSpan } from "./process-span.js";
import { subjectMatches } from "./subject-match.js";

/** One event handed to a consumer's handler (em: the transaction the inbox row was written in). */
export interface ConsumedEvent {
  envelope: EventEnvelope;
  payload: Message;
  subject: string;
  em?: EntityManager;
  redelivered: boolean;
}

/** Options of createEventConsumer. */
export interface EventConsumerOptions {
  nc: NatsConnection;
  stream: string;
  /** Durable consumer name; also the consumer name in the inbox table. */
  durable: string;
  filterSubjects: readonly string[];
  logger: Logger;
  /** When given, the handler runs in a transaction guarded by the inbox (exactly-once effects). */
  orm?: MikroORM;
  handler: (event: ConsumedEvent) => Promise<void>;
  /** Deliveries before a failing message is given up (terminated and logged). */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** First redelivery delay after a handler error; doubles per delivery up to 30 s. */
  retryDelayMs?: number;
}

/** A running durable consumer. */
export interface EventConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Creates a durable pull consumer that decodes envelopes, traces, de-duplicates and acks explicitly. */
export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const { logger, durable } = options;
  const maxDeliver = options.maxDeliver ?? 10;
  const policy = { maxDeliver, retryDelayMs: options.retryDelayMs ?? 500 };
  const log = logger.child({ consumer: durable, stream: options.stream });
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;

  async function apply(msg: JsMsg, envelope: EventEnvelope, payload: Message): Promise<void> {
    const event = { envelope, payload, subject: msg.subject, redelivered: msg.redelivered };
    const orm = options.orm;
    if (!orm) return options.handler(event);
    await orm.em.fork().transactional(async (em) => {
      if (!(await claimInbox(em, envelope.eventId, durable, envelope.eventType))) {
        log.debug({ event_id: envelope.eventId }, "event already applied; skipping");
        return;
      }
      await options.handler({ ...event, em });
    });
  }

  async function handle(msg: JsMsg): Promise<void> {
    // Filters of several subjects need NATS 2.10; on older servers this check keeps them honest.
    if (!options.filterSubjects.some((filter) => subjectMatches(filter, msg.subject))) {
      msg.ack();
      return;
    }
    const read = readMessage(msg, log, options.orm !== undefined);
    if (!read) return;
    await processInSpan(msg, read.envelope, async () => {
      try {
        await apply(msg, read.envelope, read.payload);
        msg.ack(); // only now: the inbox row and the handler's effects are committed
      } catch (error) {
        settleFailure(msg, read.envelope, error, log, policy);
        throw error; // marks the span as failed
      }
    }).catch(() => {});
  }

  return {
    async start() {
      if (loop) return;
      await ensureDurableConsumer(options.nc, {
        stream: options.stream,
        durable,
        filterSubjects: options.filterSubjects,
        maxDeliver,
        ackWaitMs: options.ackWaitMs ?? 30_000,
      });
      const consumer = await jetstream(options.nc).consumers.get(options.stream, durable);
      const iterator = await consumer.consume({ max_messages: 100 });
      messages = iterator;
      loop = (async () => {
        for await (const msg of iterator) await handle(msg);
      })();
    },
    async stop() {
      await messages?.close();
      await loop;
      messages = undefined;
      loop = undefined;
    },
  };
}
