import {
  type Tool,
  ToolSchema,
  type Workload,
  WorkloadSchema,
  WorkloadState,
} from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { WorkloadRow } from "../db/workload-entity.js";
import type { ProbedTool } from "../health/mcp-probe.js";
import type { IdleView } from "../supervisor/instance-supervisor.js";

/** The WorkloadState of a stored state name. */
export function workloadState(state: string): WorkloadState {
  return WorkloadState[state as keyof typeof WorkloadState] ?? WorkloadState.UNSPECIFIED;
}

/**
 * The proto message of a workload row, with the idle policy's clock when it has one and the name
 * of the runtime that owns it (empty while nobody does).
 */
export function workloadFromRow(row: WorkloadRow, idle?: IdleView, owner = ""): Workload {
  const lastRequest = idle?.lastRequestAt ?? row.lastRequestAt?.getTime();
  return create(WorkloadSchema, {
    instanceId: row.instanceId,
    generation: BigInt(row.generation),
    driver: row.driver,
    state: workloadState(row.state),
    message: row.message,
    containerId: row.containerId,
    endpoint: row.endpoint,
    restartCount: row.restartCount,
    ...(row.observedAt ? { observedTime: timestampFromDate(row.observedAt) } : {}),
    idleTimeoutSeconds: idle ? Math.round(idle.policy.timeoutMs / 1000) : 0,
    ...(lastRequest ? { lastRequestTime: timestampFromDate(new Date(lastRequest)) } : {}),
    ...(idle?.idleAt ? { idleTime: timestampFromDate(new Date(idle.idleAt)) } : {}),
    owner,
    engine: row.engine,
  });
}

/** The proto messages of the tools a probe saw. */
export function toolsFromRow(row: WorkloadRow): Tool[] {
  return ((row.tools ?? []) as ProbedTool[]).map((tool) =>
    create(ToolSchema, {
      name: tool.name,
      title: tool.title ?? "",
      description: tool.description ?? "",
      ...(tool.inputSchema ? { inputSchema: tool.inputSchema as JsonObject } : {}),
    }),
  );
}
