import { decodeEnvelope, type Logger } from "@berth/platform";
import type { NatsConnection } from "@nats-io/nats-core";

/** NATS answers a ping (flush waits for the server's pong). */
export async function natsAnswers(nc: NatsConnection): Promise<boolean> {
  if (nc.isClosed()) return false;
  await nc.flush();
  return true;
}

/** Drops cached endpoints when the instances service or the runtime reports a change. */
export function invalidateOnEvents(
  nc: NatsConnection,
  invalidate: (id: string) => void,
  log: Logger,
): void {
  for (const subject of ["berth.instances.>", "berth.runtime.>"]) {
    nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return log.warn({ err: error }, "event subscription failed");
        try {
          invalidate(decodeEnvelope(msg.data).aggregateId);
        } catch {
          // Not an envelope: nothing to invalidate.
        }
      },
    });
  }
}
