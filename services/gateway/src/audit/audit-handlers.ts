import { invalidArgument } from "@berth/platform";
import {
  type AuditRecord,
  AuditRecordKind,
  AuditRecordSchema,
  type AuditService,
  ChangeAuditSchema,
  McpCallAuditSchema,
  McpCallOutcome,
} from "@berth/proto/gen/berth/gateway/v1/audit_pb";
import { UUID_PATTERN } from "@berth/spec";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { McpCallOutcome as StoredOutcome } from "./audit-record.js";
import type { AuditFilters, AuditStore, ListedAuditRow } from "./audit-store.js";

const OUTCOMES: Record<StoredOutcome, McpCallOutcome> = {
  ok: McpCallOutcome.OK,
  error: McpCallOutcome.ERROR,
  tool_error: McpCallOutcome.TOOL_ERROR,
  refused: McpCallOutcome.REFUSED,
  failed: McpCallOutcome.FAILED,
};
const STORED_OUTCOME = new Map(
  Object.entries(OUTCOMES).map(([stored, outcome]) => [outcome, stored as StoredOutcome]),
);
const RESOURCE_TYPES = ["McpServer", "McpServerInstance", "VirtualServer", "ApiKey", "User"];
const MAX_FILTER = 255;

/** What the audit handlers may ask of the rest of the gateway. */
export interface AuditHandlersDeps {
  /** The name of the virtual server with this id now; undefined when there is none. */
  virtualServerName?: (id: string) => Promise<string | undefined>;
}

/** The AuditService implementation, served in-process by the gateway (admin scope only). */
export function createAuditHandlers(
  store: AuditStore,
  deps: AuditHandlersDeps = {},
): ServiceImpl<typeof AuditService> {
  return {
    async listAuditRecords(request) {
      const violations: Array<{ field: string; description: string }> = [];
      const bad = (field: string, description: string) => violations.push({ field, description });
      if (request.pageSize < 0) bad("page_size", "must not be negative");
      const startTime = request.startTime ? timestampDate(request.startTime) : undefined;
      const endTime = request.endTime ? timestampDate(request.endTime) : undefined;
      if (startTime && endTime && endTime <= startTime) bad("end_time", "must be after start_time");
      let outcome: StoredOutcome | undefined;
      if (request.outcome !== McpCallOutcome.UNSPECIFIED) {
        outcome = STORED_OUTCOME.get(request.outcome);
        if (!outcome) bad("outcome", "is not a known outcome");
      }
      let kind: AuditFilters["kind"];
      if (request.kind === AuditRecordKind.MCP_CALL) kind = "mcp_call";
      else if (request.kind === AuditRecordKind.CHANGE) kind = "change";
      else if (request.kind !== AuditRecordKind.UNSPECIFIED) bad("kind", "is not a known kind");
      if (request.resourceType && !RESOURCE_TYPES.includes(request.resourceType)) {
        bad("resource_type", `must be one of ${RESOURCE_TYPES.join(", ")}`);
      }
      for (const field of ["actorKeyId", "instance", "virtualServer", "tool"] as const) {
        if (request[field].length > MAX_FILTER) {
          bad(
            field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
            `is longer than ${MAX_FILTER} characters`,
          );
        }
      }
      if (violations.length > 0) throw invalidArgument(violations);
      const pageSize = Math.min(request.pageSize || 50, 500);
      // Calls are recorded by the virtual server's name: an id is looked up to match them too.
      const virtualServerName =
        request.virtualServer && UUID_PATTERN.test(request.virtualServer)
          ? await deps.virtualServerName?.(request.virtualServer)
          : undefined;
      const page = await store.list(
        {
          startTime,
          endTime,
          kind,
          actorKeyId: request.actorKeyId || undefined,
          instance: request.instance || undefined,
          virtualServer: request.virtualServer || undefined,
          virtualServerName,
          tool: request.tool || undefined,
          outcome,
          resourceType: request.resourceType || undefined,
        },
        pageSize,
        request.pageToken,
      );
      return { auditRecords: page.rows.map(auditRecordFromRow), nextPageToken: page.nextPageToken };
    },
  };
}

/** The API's view of a stored record. */
export function auditRecordFromRow(row: ListedAuditRow): AuditRecord {
  const common = {
    id: row.id,
    time: timestampFromDate(row.time),
    actorKeyId: row.actorKeyId,
    actorKeyName: row.actorKeyName,
    actorUser: row.actorUser,
    actorSubject: row.actorSubject,
    actorIssuer: row.actorIssuer,
    correlationId: row.correlationId,
  };
  if (row.kind === "mcp_call") {
    return create(AuditRecordSchema, {
      ...common,
      kind: AuditRecordKind.MCP_CALL,
      mcpCall: create(McpCallAuditSchema, {
        instanceId: row.instanceId,
        instanceName: row.instanceName,
        virtualServer: row.virtualServer,
        method: row.method,
        tool: row.tool,
        argumentsDigest: row.argumentsDigest,
        durationMs: BigInt(row.durationMs),
        outcome: OUTCOMES[row.outcome as StoredOutcome] ?? McpCallOutcome.UNSPECIFIED,
        errorCode: row.errorCode,
        sessionId: row.sessionId,
      }),
    });
  }
  return create(AuditRecordSchema, {
    ...common,
    kind: AuditRecordKind.CHANGE,
    change: create(ChangeAuditSchema, {
      resourceType: row.resourceType,
      resourceId: row.resourceId,
      resourceName: row.resourceName,
      action: row.action,
      revisionBefore: row.revisionBefore,
      revisionAfter: row.revisionAfter,
      changedFields: row.changedFields,
      source: row.source,
    }),
  });
}
