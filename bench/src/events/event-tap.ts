import { decodeEnvelope, unpackPayload } from "@berth/platform";
import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { connectAs } from "@berth/testkit";
import type { Message } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { NatsConnection } from "@nats-io/transport-node";
import { wallMs } from "../support/stats.js";

/** An event as the bench saw it go by on NATS. */
export interface SeenEvent {
  subject: string;
  envelope: EventEnvelope;
  payload: Message;
  /** envelope.occurred_at in epoch ms (written by the producer, in its transaction). */
  occurredAt: number;
  /** When this core subscription received it (epoch ms, sub-ms resolution). */
  seenAt: number;
}

/** A core-NATS subscription that watches events without consuming them from the streams. */
export interface EventTap {
  close(): Promise<void>;
}

/** Subscribes to the subjects; each event is decoded and handed to onEvent. */
export async function tapEvents(
  natsUrl: string,
  subjects: readonly string[],
  onEvent: (event: SeenEvent) => void,
): Promise<EventTap> {
  const nc: NatsConnection = await connectAs(natsUrl, "berth-bench");
  for (const subject of subjects) {
    nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        const seenAt = wallMs();
        try {
          const envelope = decodeEnvelope(msg.data);
          onEvent({
            subject: msg.subject,
            envelope,
            payload: unpackPayload(envelope),
            occurredAt: envelope.occurredAt ? timestampMs(envelope.occurredAt) : Number.NaN,
            seenAt,
          });
        } catch {
          // not an event envelope: not ours to measure
        }
      },
    });
  }
  await nc.flush();
  return { close: () => nc.drain() };
}
