import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiError,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";

/** What a durable pull consumer of Berth is made of. */
export interface DurableConsumerSpec {
  stream: string;
  durable: string;
  filterSubjects: readonly string[];
  maxDeliver: number;
  ackWaitMs: number;
  /**
   * Events delivered and not yet acknowledged, over every process of the consumer (the server's
   * default when absent). The client keeps pulling while its handlers lag, and an event that sits
   * in its buffer gets no progress acknowledgement: past the ack deadline it is delivered again.
   */
  maxAckPending?: number;
}

const CONSUMER_NOT_FOUND = 10014;

/**
 * The server-side filter: one subject uses filter_subject. Several would need filter_subjects,
 * which nats-server before 2.10 (Debian 12 ships 2.9) refuses, so the consumer then reads the
 * whole stream and createEventConsumer acks what matches none of the subjects unhandled.
 */
function filters(subjects: readonly string[]): Partial<ConsumerConfig> {
  return subjects.length === 1 ? { filter_subject: subjects[0] } : {};
}

/** Creates the durable pull consumer (explicit acks, deliver all), or updates it; idempotent. */
export async function ensureDurableConsumer(
  nc: NatsConnection,
  spec: DurableConsumerSpec,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const updatable = {
    ...filters(spec.filterSubjects),
    max_deliver: spec.maxDeliver,
    ack_wait: nanos(spec.ackWaitMs),
    ...(spec.maxAckPending ? { max_ack_pending: spec.maxAckPending } : {}),
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== CONSUMER_NOT_FOUND) throw error;
    await jsm.consumers.add(spec.stream, {
      ...updatable,
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    return;
  }
  await jsm.consumers.update(spec.stream, spec.durable, updatable);
}
