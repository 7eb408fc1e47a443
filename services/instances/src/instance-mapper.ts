import {
  DesiredState,
  type IdleState,
  IdleStateSchema,
  InstanceStatus,
  type McpServerInstance,
  McpServerInstanceSchema,
  UpstreamCircuit,
  type UpstreamHealth,
  UpstreamHealthSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { InstanceRow, StoredIdle, StoredUpstream } from "./db/instance-entity.js";

/** The stored name of a desired state (RUNNING, STOPPED). */
export function desiredStateName(state: DesiredState): string {
  return DesiredState[state];
}

/** The stored name of a status (PENDING, RUNNING, …). */
export function statusName(status: InstanceStatus): string {
  return InstanceStatus[status];
}

/** The proto message of a stored instance (json_spec carries secret references only). */
export function instanceFromRow(row: InstanceRow): McpServerInstance {
  return create(McpServerInstanceSchema, {
    id: row.id,
    name: row.name,
    description: row.description,
    serverId: row.serverId ?? "",
    team: row.team,
    jsonSpec: row.jsonSpec,
    desiredState:
      DesiredState[row.desiredState as keyof typeof DesiredState] ?? DesiredState.UNSPECIFIED,
    status: InstanceStatus[row.status as keyof typeof InstanceStatus] ?? InstanceStatus.UNSPECIFIED,
    statusMessage: row.statusMessage,
    ...(row.statusTime ? { statusTime: timestampFromDate(row.statusTime) } : {}),
    endpoint: row.endpoint,
    generation: BigInt(row.generation),
    revision: BigInt(row.revision),
    createTime: timestampFromDate(row.createdAt),
    updateTime: timestampFromDate(row.updatedAt),
    ...(row.upstream ? { upstream: upstreamFromStored(row.upstream) } : {}),
    ...(row.idle ? { idle: idleFromStored(row.idle) } : {}),
  });
}

/** The proto message of a stored idle state. */
export function idleFromStored(stored: StoredIdle): IdleState {
  return create(IdleStateSchema, {
    timeoutSeconds: stored.timeoutSeconds,
    ...(stored.lastRequestTime
      ? { lastRequestTime: timestampFromDate(new Date(stored.lastRequestTime)) }
      : {}),
    ...(stored.idleTime ? { idleTime: timestampFromDate(new Date(stored.idleTime)) } : {}),
  });
}

/** The stored form of a reported idle state. */
export function storedIdle(idle: IdleState): StoredIdle {
  const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : undefined);
  const lastRequestTime = iso(idle.lastRequestTime);
  const idleTime = iso(idle.idleTime);
  return {
    timeoutSeconds: idle.timeoutSeconds,
    ...(lastRequestTime ? { lastRequestTime } : {}),
    ...(idleTime ? { idleTime } : {}),
  };
}

/** The proto message of a stored upstream state. */
export function upstreamFromStored(stored: StoredUpstream): UpstreamHealth {
  return create(UpstreamHealthSchema, {
    circuit: UpstreamCircuit[stored.circuit] ?? UpstreamCircuit.UNSPECIFIED,
    consecutiveFailures: stored.consecutiveFailures,
    lastErrorCode: stored.lastErrorCode,
    updateTime: timestampFromDate(new Date(stored.updateTime)),
    ...(stored.openTime ? { openTime: timestampFromDate(new Date(stored.openTime)) } : {}),
  });
}

/** The endpoint clients use: the gateway's MCP proxy path. */
export function endpointFor(name: string): string {
  return `/mcp/${name}`;
}
