import { createEnvelope, encodeEnvelope, type Logger, subjectFor } from "@berth/platform";
import { McpUpstreamCircuitChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import {
  UpstreamCircuit,
  UpstreamHealthSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { CircuitSnapshot } from "./circuit-breaker.js";

/** Publishes breaker state changes as McpUpstreamCircuitChanged events. */
export interface CircuitReporter {
  report(instanceId: string, snapshot: CircuitSnapshot): void;
  /** Stops retrying (what is still unpublished is dropped: the next change tells again). */
  stop(): void;
}

const RETRY_MS = 1_000;
const MAX_PENDING = 10_000;
const SUBJECT = subjectFor(McpUpstreamCircuitChangedSchema.typeName);

/**
 * Publishes the newest breaker state of each instance straight to JetStream (no outbox: the
 * state is an observation, and only the newest one matters). What cannot be published now (NATS
 * away) is kept, newest per instance, and tried again every second, so the instance ends up
 * showing the gateway's current view. The instances service orders them by update_time.
 */
export function createCircuitReporter(nc: NatsConnection, logger: Logger): CircuitReporter {
  const js = jetstream(nc);
  const pending = new Map<string, CircuitSnapshot>();
  let flushing = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const publish = async (instanceId: string, snapshot: CircuitSnapshot) => {
    const upstream = create(UpstreamHealthSchema, {
      circuit: UpstreamCircuit[snapshot.state],
      consecutiveFailures: snapshot.consecutiveFailures,
      lastErrorCode: snapshot.lastErrorCode,
      updateTime: timestampFromMs(snapshot.changedAt),
      ...(snapshot.openedAt && snapshot.state !== "CLOSED"
        ? { openTime: timestampFromMs(snapshot.openedAt) }
        : {}),
    });
    const envelope = createEnvelope({
      schema: McpUpstreamCircuitChangedSchema,
      payload: create(McpUpstreamCircuitChangedSchema, { instanceId, upstream }),
      aggregateType: "McpServerInstance",
      aggregateId: instanceId,
      aggregateVersion: snapshot.changedAt,
      source: "gateway",
    });
    await js.publish(SUBJECT, encodeEnvelope(envelope), { msgID: envelope.eventId });
  };

  const flush = async () => {
    if (flushing || stopped) return;
    flushing = true;
    let failed = false;
    // Changes reported while publishing are published in the next round, at once.
    while (pending.size > 0 && !failed && !stopped) {
      for (const [instanceId, snapshot] of [...pending]) {
        try {
          await publish(instanceId, snapshot);
          // A newer state reported meanwhile stays pending.
          if (pending.get(instanceId) === snapshot) pending.delete(instanceId);
        } catch (error) {
          logger.warn(
            { err: error, instance_id: instanceId },
            "cannot publish a circuit change; will retry",
          );
          failed = true;
          break;
        }
      }
    }
    flushing = false;
    if (pending.size > 0 && !stopped) {
      timer ??= setTimeout(() => {
        timer = undefined;
        void flush();
      }, RETRY_MS);
    }
  };

  return {
    report(instanceId, snapshot) {
      logger.info(
        {
          instance_id: instanceId,
          circuit: snapshot.state,
          consecutive_failures: snapshot.consecutiveFailures,
          last_error_code: snapshot.lastErrorCode,
        },
        "MCP upstream circuit changed",
      );
      pending.delete(instanceId);
      pending.set(instanceId, snapshot);
      if (pending.size > MAX_PENDING) pending.delete(pending.keys().next().value!);
      void flush();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
