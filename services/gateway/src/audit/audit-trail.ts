import { ensureStreams, type Logger } from "@berth/platform";
import { AuditService } from "@berth/proto/gen/berth/gateway/v1/audit_pb";
import type { DescService } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { NatsConnection } from "@nats-io/nats-core";
import { createAuditHandlers } from "./audit-handlers.js";
import type { McpCallFacts } from "./audit-record.js";
import { createAuditRetention } from "./audit-retention.js";
import { createAuditStore } from "./audit-store.js";
import { createChangeConsumer } from "./change-consumer.js";
import { createMcpCallRecorder, type McpCallRecorder } from "./mcp-call-recorder.js";

/** Options of startAuditTrail. */
export interface AuditTrailOptions {
  orm: MikroORM;
  nc: NatsConnection;
  logger: Logger;
  retentionDays: number;
  retentionIntervalMs: number;
  /** Told how many MCP call records were dropped (buffer full during an outage). */
  onDropped?: (count: number) => void;
  /** The name of the virtual server with this id now, so that the list filter takes an id too. */
  virtualServerName?: (id: string) => Promise<string | undefined>;
}

/** The gateway's audit trail, running. */
export interface AuditTrail {
  /** Records one MCP call (any MCP path: the instance proxy, virtual servers). */
  recordMcpCall(call: McpCallFacts): void;
  recorder: McpCallRecorder;
  /** The AuditService, for the gateway's router. */
  service: { service: DescService; impl: object };
  stop(): Promise<void>;
}

/**
 * Starts the audit trail: MCP calls recorded in batches, changes recorded from the registry's
 * and instances service's events (a durable consumer), API key changes by their handlers, old
 * records deleted on a timer, and the AuditService that reads them.
 */
export async function startAuditTrail(options: AuditTrailOptions): Promise<AuditTrail> {
  const store = createAuditStore(options.orm);
  const recorder = createMcpCallRecorder({
    store,
    logger: options.logger,
    ...(options.onDropped ? { onDropped: options.onDropped } : {}),
  });
  // The producers' streams may not exist yet when the gateway starts first.
  await ensureStreams(options.nc);
  const changes = createChangeConsumer({
    nc: options.nc,
    orm: options.orm,
    store,
    logger: options.logger,
  });
  await changes.start();
  const retention = createAuditRetention({
    store,
    days: options.retentionDays,
    intervalMs: options.retentionIntervalMs,
    logger: options.logger,
  });
  retention.start();
  return {
    recordMcpCall: (call) => recorder.record(call),
    recorder,
    service: {
      service: AuditService as DescService,
      impl: createAuditHandlers(store, {
        ...(options.virtualServerName ? { virtualServerName: options.virtualServerName } : {}),
      }),
    },
    async stop() {
      await retention.stop();
      await changes.stop();
      await recorder.close();
    },
  };
}
