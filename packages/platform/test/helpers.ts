import { Writable } from "node:stream";
import { jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLogger, type Logger } from "../src/logging/logger.js";

/** A logger whose lines are kept in memory (tests read them back). */
export function memoryLogger(service = "platform-test"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ service, level: "debug", destination }), lines };
}

/** Polls until check() holds; returns whether it did. */
export { pollUntil as waitFor } from "@berth/testkit";

/** Every message stored in a stream, in stream order. */
export async function storedMessages(nc: NatsConnection, stream: string): Promise<StoredMsg[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const messages: StoredMsg[] = [];
  for (
    let seq = info.state.first_seq;
    seq <= info.state.last_seq && info.state.messages > 0;
    seq++
  ) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message) messages.push(message);
  }
  return messages;
}
