import { randomUUID } from "node:crypto";

/** How an MCP call ended (the proto's McpCallOutcome, as stored). */
export type McpCallOutcome = "ok" | "error" | "tool_error" | "refused" | "failed";

/**
 * What any MCP path (the /mcp/{instance} proxy, a virtual server) reports of one call: never an
 * argument value or a result. The arguments are given as their digest (argumentsDigest).
 */
export interface McpCallFacts {
  /** The API key id behind the call. */
  keyId: string;
  /** The instance called (for a virtual server: the member that owns the tool). */
  instanceId?: string | undefined;
  instanceName?: string | undefined;
  /** The virtual server's name, when the call came through /mcp/v/{name}. */
  virtualServer?: string | undefined;
  /** The JSON-RPC method, e.g. tools/call. */
  method: string;
  /** The tool's name, for tools/call. */
  tool?: string | undefined;
  /** argumentsDigest() of the call's arguments. */
  argumentsDigest?: string | undefined;
  durationMs: number;
  outcome: McpCallOutcome;
  /** The JSON-RPC error code, or http_<status>; empty when the call succeeded. */
  errorCode?: string | undefined;
  sessionId?: string | undefined;
  /** When the call started (defaults to now minus its duration). */
  time?: Date | undefined;
  correlationId?: string | undefined;
}

/** What is kept of one change to a catalog entry, an instance, a virtual server or an API key. */
export interface ChangeFacts {
  /** The event's id when the change was announced by one (a redelivery is recorded once). */
  id?: string | undefined;
  time: Date;
  actorKeyId: string;
  correlationId: string;
  resourceType: "McpServer" | "McpServerInstance" | "VirtualServer" | "ApiKey" | "User" | "Team";
  resourceId: string;
  resourceName: string;
  action:
    | "created"
    | "updated"
    | "deleted"
    | "started"
    | "stopped"
    | "revoked"
    /** The idle policy stopped the workload; the first MCP request woke it. */
    | "slept"
    | "woke";
  revisionBefore: bigint;
  revisionAfter: bigint;
  changedFields?: readonly string[] | undefined;
  /** The service that made the change. */
  source: string;
}

/** One row of gateway.audit_records: an MCP call or a change. */
export interface AuditRow {
  id: string;
  kind: "mcp_call" | "change";
  time: Date;
  actorKeyId: string;
  correlationId: string;
  instanceId: string;
  instanceName: string;
  virtualServer: string;
  method: string;
  tool: string;
  argumentsDigest: string;
  durationMs: number;
  outcome: string;
  errorCode: string;
  sessionId: string;
  resourceType: string;
  resourceId: string;
  resourceName: string;
  action: string;
  revisionBefore: bigint;
  revisionAfter: bigint;
  changedFields: string[];
  source: string;
}

// Every text an MCP client chooses (method, tool, session) is cut to the column's width.
const MAX_TEXT = 255;
const cut = (value: string | undefined, max = MAX_TEXT) => (value ?? "").slice(0, max);

const EMPTY: Omit<AuditRow, "id" | "kind" | "time"> = {
  actorKeyId: "",
  correlationId: "",
  instanceId: "",
  instanceName: "",
  virtualServer: "",
  method: "",
  tool: "",
  argumentsDigest: "",
  durationMs: 0,
  outcome: "",
  errorCode: "",
  sessionId: "",
  resourceType: "",
  resourceId: "",
  resourceName: "",
  action: "",
  revisionBefore: 0n,
  revisionAfter: 0n,
  changedFields: [],
  source: "",
};

/** The row of an MCP call. */
export function mcpCallRow(facts: McpCallFacts): AuditRow {
  const durationMs = Math.max(0, Math.round(facts.durationMs));
  return {
    ...EMPTY,
    id: randomUUID(),
    kind: "mcp_call",
    time: facts.time ?? new Date(Date.now() - durationMs),
    actorKeyId: cut(facts.keyId, 64),
    correlationId: cut(facts.correlationId, 128),
    instanceId: cut(facts.instanceId, 64),
    instanceName: cut(facts.instanceName),
    virtualServer: cut(facts.virtualServer),
    method: cut(facts.method),
    tool: cut(facts.tool),
    argumentsDigest: cut(facts.argumentsDigest, 64),
    durationMs,
    outcome: facts.outcome,
    errorCode: cut(facts.errorCode, 64),
    sessionId: cut(facts.sessionId),
    source: "gateway",
  };
}

/** The row of a change; an instance's changes also carry its id and name as the instance. */
export function changeRow(facts: ChangeFacts): AuditRow {
  const instance = facts.resourceType === "McpServerInstance";
  return {
    ...EMPTY,
    id: facts.id ?? randomUUID(),
    kind: "change",
    time: facts.time,
    actorKeyId: cut(facts.actorKeyId, 64),
    correlationId: cut(facts.correlationId, 128),
    instanceId: instance ? facts.resourceId : "",
    instanceName: instance ? cut(facts.resourceName) : "",
    virtualServer: facts.resourceType === "VirtualServer" ? cut(facts.resourceName) : "",
    resourceType: facts.resourceType,
    resourceId: cut(facts.resourceId, 64),
    resourceName: cut(facts.resourceName),
    action: facts.action,
    revisionBefore: facts.revisionBefore,
    revisionAfter: facts.revisionAfter,
    changedFields: [...(facts.changedFields ?? [])],
    source: facts.source,
  };
}
