import {
  type DeadLetter,
  DeadLetterSchema,
} from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type JsMsg, jetstream, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from "@nats-io/nats-core";
import { DEAD_LETTER_STREAM, deadLetterSubject } from "./subjects.js";

/** Headers a dead letter carries besides the original message's own. */
export const DEAD_LETTER_HEADERS = {
  reason: "Berth-Dlq-Reason",
  subject: "Berth-Dlq-Subject",
  stream: "Berth-Dlq-Stream",
  sequence: "Berth-Dlq-Seq",
  service: "Berth-Dlq-Service",
  consumer: "Berth-Dlq-Consumer",
  deliveries: "Berth-Dlq-Deliveries",
  eventId: "Berth-Dlq-Event-Id",
  eventType: "Berth-Dlq-Event-Type",
  aggregateId: "Berth-Dlq-Aggregate-Id",
} as const;

const DLQ_PREFIX = "berth-dlq-";

/** What is known of a refused event besides its message. */
export interface DeadLetterFacts {
  service: string;
  consumer: string;
  reason: string;
  eventId?: string;
  eventType?: string;
  aggregateId?: string;
}

/**
 * Moves a message to berth.dlq.<service>.<consumer>: its bytes, its headers and why it was
 * refused. Idempotent per consumer and original sequence (a redelivery after a lost ack is not
 * stored twice). Throws when JetStream does not take it: the caller then keeps the message.
 */
export async function sendToDeadLetters(
  nc: NatsConnection,
  msg: JsMsg,
  facts: DeadLetterFacts,
): Promise<void> {
  const h = natsHeaders();
  for (const [key, values] of entries(msg.headers)) {
    // JetStream's own headers (Nats-Msg-Id …) would de-duplicate or misroute the copy.
    if (key.toLowerCase().startsWith("nats-")) continue;
    for (const value of values) h.append(key, value);
  }
  const stream = msg.info.stream;
  const values: Record<keyof typeof DEAD_LETTER_HEADERS, string | undefined> = {
    reason: facts.reason,
    subject: msg.subject,
    stream,
    sequence: String(msg.info.streamSequence),
    service: facts.service,
    consumer: facts.consumer,
    deliveries: String(msg.info.deliveryCount),
    eventId: facts.eventId,
    eventType: facts.eventType,
    aggregateId: facts.aggregateId,
  };
  for (const [field, name] of Object.entries(DEAD_LETTER_HEADERS)) {
    const value = values[field as keyof typeof DEAD_LETTER_HEADERS];
    if (value) h.set(name, oneLine(value));
  }
  await jetstream(nc).publish(deadLetterSubject(facts.service, facts.consumer), msg.data, {
    headers: h,
    msgID: `${facts.service}-${facts.consumer}-${stream}-${msg.info.streamSequence}`,
  });
}

/** A page of dead letters: oldest first, from the sequence in pageToken. */
export async function listDeadLetters(
  nc: NatsConnection,
  options: { pageSize: number; pageToken?: string; service?: string },
): Promise<{ deadLetters: DeadLetter[]; nextPageToken: string }> {
  const jsm = await jetstreamManager(nc);
  const filter = options.service ? `berth.dlq.${options.service}.>` : "berth.dlq.>";
  const deadLetters: DeadLetter[] = [];
  let seq = options.pageToken ? Number(options.pageToken) : 1;
  while (deadLetters.length < options.pageSize) {
    // The first message on or after seq matching the filter (skips replayed, deleted ones).
    const query = { seq, next_by_subj: filter };
    const stored = await jsm.streams.getMessage(DEAD_LETTER_STREAM, query);
    if (!stored) return { deadLetters, nextPageToken: "" };
    deadLetters.push(deadLetterOf(stored));
    seq = stored.seq + 1;
  }
  const next = { seq, next_by_subj: filter };
  const more = await jsm.streams.getMessage(DEAD_LETTER_STREAM, next);
  return { deadLetters, nextPageToken: more ? String(more.seq) : "" };
}

/** The dead letter of sequence id, or undefined when there is none (replayed or expired). */
export async function getDeadLetter(
  nc: NatsConnection,
  id: number,
): Promise<{ deadLetter: DeadLetter; stored: StoredMsg } | undefined> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq: id });
  if (!stored?.subject.startsWith("berth.dlq.")) return undefined;
  return { deadLetter: deadLetterOf(stored), stored };
}

/**
 * Publishes the dead letter's original bytes and headers again on its original subject, under a
 * new message id (the stream would drop the old one as a duplicate), then removes the dead
 * letter. Consumers that applied the event before skip it through their inbox. Returns the
 * dead letter as it was, or undefined when there is none.
 */
export async function replayDeadLetter(
  nc: NatsConnection,
  id: number,
): Promise<DeadLetter | undefined> {
  const found = await getDeadLetter(nc, id);
  if (!found) return undefined;
  const h = natsHeaders();
  for (const [key, values] of entries(found.stored.header)) {
    if (key.toLowerCase().startsWith(DLQ_PREFIX) || key.toLowerCase().startsWith("nats-")) continue;
    for (const value of values) h.append(key, value);
  }
  await jetstream(nc).publish(found.deadLetter.subject, found.stored.data, {
    headers: h,
    msgID: `replay-${found.deadLetter.eventId || "unreadable"}-${id}`,
  });
  await (await jetstreamManager(nc)).streams.deleteMessage(DEAD_LETTER_STREAM, id, false);
  return found.deadLetter;
}

function deadLetterOf(stored: StoredMsg): DeadLetter {
  const get = (name: string) => stored.header.get(name) ?? "";
  return create(DeadLetterSchema, {
    id: String(stored.seq),
    service: get(DEAD_LETTER_HEADERS.service),
    consumer: get(DEAD_LETTER_HEADERS.consumer),
    reason: get(DEAD_LETTER_HEADERS.reason),
    subject: get(DEAD_LETTER_HEADERS.subject),
    eventId: get(DEAD_LETTER_HEADERS.eventId),
    eventType: get(DEAD_LETTER_HEADERS.eventType),
    aggregateId: get(DEAD_LETTER_HEADERS.aggregateId),
    sizeBytes: BigInt(stored.data.length),
    deadTime: timestampFromDate(stored.time),
    deliveries: Number(get(DEAD_LETTER_HEADERS.deliveries)) || 0,
  });
}

function entries(h: MsgHdrs | undefined): Array<[string, string[]]> {
  if (!h) return [];
  return h.keys().map((key) => [key, h.values(key)]);
}

// Header values end at a line break; reasons may quote forged input.
function oneLine(value: string): string {
  const line = value.replace(/[\r\n]+/g, " ");
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}
