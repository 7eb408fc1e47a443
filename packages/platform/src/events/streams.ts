import {
  DiscardPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  type NatsConnection,
  NoRespondersError,
  nanos,
  RequestError,
  TimeoutError,
} from "@nats-io/nats-core";
import { DEAD_LETTER_STREAM, STREAMS, type StreamName } from "./subjects.js";

/** JetStream de-duplicates a Nats-Msg-Id seen again within this window. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

const SUBJECTS: Record<StreamName, string> = {
  BERTH_REGISTRY: "berth.registry.>",
  BERTH_INSTANCES: "berth.instances.>",
  BERTH_RUNTIME: "berth.runtime.>",
  BERTH_GATEWAY: "berth.gateway.>",
  BERTH_DLQ: "berth.dlq.>",
};

// Dead letters wait for an operator, but not forever.
const DEAD_LETTER_MAX_AGE_MS = 30 * 24 * 3_600_000;

/**
 * The configuration of one Berth stream (durations in nanoseconds, as JetStream wants), kept on
 * `replicas` servers of a JetStream cluster (NATS_STREAM_REPLICAS).
 */
export function streamConfig(
  name: StreamName,
  replicas = 1,
): Partial<StreamConfig> & { name: string } {
  return {
    name,
    num_replicas: replicas,
    subjects: [SUBJECTS[name]],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    ...(name === DEAD_LETTER_STREAM ? { max_age: nanos(DEAD_LETTER_MAX_AGE_MS) } : {}),
  };
}

/** Every Berth stream name: the producers' streams and the dead letters. */
export const ALL_STREAMS: readonly StreamName[] = [...Object.values(STREAMS), DEAD_LETTER_STREAM];

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
/** JSClusterNotAvailErr: a JetStream cluster still electing its meta leader. */
const CLUSTER_NOT_AVAILABLE = 10008;
/** How long start-up waits for JetStream to answer stream requests before giving up. */
const ENSURE_DEADLINE_MS = 60_000;

/**
 * Whether a stream request may succeed if made again: no answer (a timeout, no responders: a
 * server or a cluster still starting, a node just gone) or a cluster without its leader yet.
 * An answer that refuses the request (a bad config, no permission) is final.
 */
function isTransient(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.code === CLUSTER_NOT_AVAILABLE;
  if (error instanceof RequestError) return error.isNoResponders();
  return error instanceof TimeoutError || error instanceof NoRespondersError;
}

/**
 * Creates or updates the given streams (all by default) with `replicas` copies each; safe to
 * call from every service at once.
 */
export async function ensureStreams(
  nc: NatsConnection,
  names: readonly StreamName[] = ALL_STREAMS,
  replicas = 1,
): Promise<void> {
  const deadline = Date.now() + ENSURE_DEADLINE_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ensureStreamsOnce(nc, names, replicas);
    } catch (error) {
      // A three-node cluster starting beside the services answers nothing until it has a leader.
      if (!isTransient(error) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 2_000)));
    }
  }
}

async function ensureStreamsOnce(
  nc: NatsConnection,
  names: readonly StreamName[],
  replicas: number,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of names) {
    const config = streamConfig(name, replicas);
    try {
      await jsm.streams.update(name, config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NOT_FOUND) throw error;
      try {
        await jsm.streams.add(config);
      } catch (addError) {
        // Another service created it between our update and add: update it now.
        if (!(addError instanceof JetStreamApiError) || addError.code !== STREAM_NAME_IN_USE) {
          throw addError;
        }
        await jsm.streams.update(name, config);
      }
    }
  }
}
