import { decodeEnvelope } from "@berth/platform";
import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { connectAs } from "@berth/testkit";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";

/** One event read back from JetStream. */
export interface ReadEvent {
  subject: string;
  envelope: EventEnvelope;
  headers: Record<string, string>;
}

/**
 * Reads every event of a stream from the start with an ordered consumer, for up to waitMs,
 * or until `until` says enough. Bounded in time; the consumer leaves nothing behind.
 */
export async function readEvents(
  natsUrl: string,
  stream: string,
  options: { waitMs?: number; until?: (events: ReadEvent[]) => boolean } = {},
): Promise<ReadEvent[]> {
  const nc = await connectAs(natsUrl);
  const events: ReadEvent[] = [];
  try {
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const deadline = Date.now() + (options.waitMs ?? 5_000);
    while (Date.now() < deadline && !options.until?.(events)) {
      const message = await consumer.next({
        expires: Math.max(1_000, Math.min(2_000, deadline - Date.now())),
      });
      if (!message) continue;
      const headers: Record<string, string> = {};
      for (const key of message.headers?.keys() ?? [])
        headers[key] = message.headers?.get(key) ?? "";
      events.push({ subject: message.subject, envelope: decodeEnvelope(message.data), headers });
    }
    return events;
  } finally {
    await nc.close();
  }
}
