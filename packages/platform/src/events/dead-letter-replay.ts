import type { DeadLetter } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Logger } from "../logging/logger.js";
import { getDeadLetter, replayDeadLetter } from "./dead-letters.js";

/**
 * Replays go through the service that produced the event: only it may publish on its own
 * subjects (NATS permissions), so whoever asks for a replay (the gateway's admin API) sends a
 * request to `berth.replay.<producer>` and that service republishes its own event. No stream
 * captures these subjects: the request is answered by the producer, not by JetStream.
 */
export function replaySubject(producer: string): string {
  return `berth.replay.${producer}`;
}

/** The producing service of an event subject (`berth.<service>.<aggregate>.<event>`). */
export function producerOf(subject: string): string | undefined {
  const [root, service] = subject.split(".");
  return root === "berth" && service && /^[a-z][a-z0-9-]*$/.test(service) ? service : undefined;
}

interface ReplayAnswer {
  replayed?: boolean;
  error?: string;
}

/** Answers replay requests for the events this service produced. */
export function serveDeadLetterReplays(
  nc: NatsConnection,
  service: string,
  logger: Logger,
): { stop(): void } {
  const sub: Subscription = nc.subscribe(replaySubject(service), {
    callback: (error, msg) => {
      if (error) return logger.warn({ err: error }, "dead-letter replay subscription failed");
      void answer(msg).catch((failure: unknown) =>
        logger.warn({ err: failure }, "dead-letter replay failed"),
      );
    },
  });
  async function answer(msg: Msg): Promise<void> {
    const reply = (value: ReplayAnswer) => msg.respond(JSON.stringify(value));
    const id = Number(msg.string());
    if (!Number.isSafeInteger(id) || id <= 0) return void reply({ error: "not a dead letter id" });
    const found = await getDeadLetter(nc, id);
    if (!found) return void reply({ replayed: false });
    if (producerOf(found.deadLetter.subject) !== service) {
      return void reply({ error: `not an event of the ${service} service` });
    }
    try {
      await replayDeadLetter(nc, id);
      logger.info({ dead_letter: id, subject: found.deadLetter.subject }, "dead letter replayed");
      reply({ replayed: true });
    } catch (failure) {
      logger.warn({ err: failure, dead_letter: id }, "dead letter replay failed");
      reply({ error: "the event store did not take the replay" });
    }
  }
  return { stop: () => sub.unsubscribe() };
}

/** Why a replay request was not carried out. */
export class DeadLetterReplayError extends Error {
  override readonly name = "DeadLetterReplayError";
  constructor(
    message: string,
    /** The producer did not answer (not running): the caller may retry later. */
    readonly unavailable: boolean,
  ) {
    super(message);
  }
}

/**
 * Asks the producer of a dead letter's event to replay it. Resolves with the dead letter as it
 * was, or undefined when there is none; throws DeadLetterReplayError when the producer refuses or
 * does not answer.
 */
export async function requestDeadLetterReplay(
  nc: NatsConnection,
  id: number,
  timeoutMs = 5_000,
): Promise<DeadLetter | undefined> {
  const found = await getDeadLetter(nc, id);
  if (!found) return undefined;
  const producer = producerOf(found.deadLetter.subject);
  if (!producer) throw new DeadLetterReplayError("the dead letter has no Berth subject", false);
  let answer: ReplayAnswer;
  try {
    const msg = await nc.request(replaySubject(producer), String(id), { timeout: timeoutMs });
    answer = JSON.parse(msg.string()) as ReplayAnswer;
  } catch {
    throw new DeadLetterReplayError(`the ${producer} service is unavailable`, true);
  }
  if (answer.error) throw new DeadLetterReplayError(answer.error, false);
  return answer.replayed ? found.deadLetter : undefined;
}
