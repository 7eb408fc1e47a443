import {
  DesiredState,
  type IdleState,
  InstanceStatus,
  ListInstancesResponseSchema,
  type McpServerInstance,
  McpServerInstanceSchema,
  UpstreamCircuit,
  type UpstreamHealth,
} from "@berth/sdk";
import { isSecretRef } from "@berth/spec";
import { create } from "@bufbuild/protobuf";
import { parseSeconds } from "../args.js";
import { enumName, formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { Context, Invocation } from "../types.js";
import { type Goal, printChange, waitForGoal } from "./wait.js";

/** The flags of commands that can wait for the outcome. */
export const WAIT_OPTIONS = {
  wait: { type: "boolean" },
  timeout: { type: "string" },
} as const;

/** Where MCP clients reach the instance through the gateway. */
export function endpointUrl(ctx: Context, instance: McpServerInstance): string {
  return instance.endpoint.startsWith("/") ? `${ctx.url}${instance.endpoint}` : instance.endpoint;
}

/** One instance as fields (or JSON); secret values never reach the CLI, only their references. */
export function printInstance(ctx: Context, instance: McpServerInstance | undefined): void {
  if (!instance) return;
  if (ctx.output === "json") {
    ctx.json(McpServerInstanceSchema, instance);
    return;
  }
  const spec = instance.jsonSpec ?? {};
  const environment = (spec.environment ?? {}) as Record<string, unknown>;
  const env = Object.entries(environment).map(([name, value]) =>
    isSecretRef(value) ? `${name}=(secret)` : `${name}=${String(value)}`,
  );
  ctx.io.out(
    formatFields([
      ["name", instance.name],
      ["id", instance.id],
      ["description", instance.description],
      ["server", instance.serverId],
      ["status", enumName(InstanceStatus, instance.status)],
      ["message", instance.statusMessage],
      ["desired", enumName(DesiredState, instance.desiredState)],
      ["generation", String(instance.generation)],
      ["type", typeof spec.type === "string" ? spec.type : ""],
      ["image", typeof spec.image === "string" ? spec.image : ""],
      ["url", typeof spec.endpoint === "string" ? spec.endpoint : ""],
      ["env", env.join(" ")],
      ["endpoint", endpointUrl(ctx, instance)],
      ["upstream", upstreamText(instance.upstream)],
      ["idle", idleText(instance.idle)],
      [
        "last request",
        instance.idle?.lastRequestTime ? formatTime(instance.idle.lastRequestTime) : "",
      ],
      ["idle at", instance.idle?.idleTime ? formatTime(instance.idle.idleTime) : ""],
      ["created", formatTime(instance.createTime)],
      ["updated", formatTime(instance.updateTime)],
    ]),
  );
}

/** The idle policy, e.g. "after 600s without MCP traffic" (empty: never idled). */
export function idleText(idle: IdleState | undefined): string {
  if (!idle || idle.timeoutSeconds <= 0) return "";
  return `after ${idle.timeoutSeconds}s without MCP traffic`;
}

/** The gateway's circuit breaker on the upstream, e.g. "OPEN since … (5 failures, last ECONNREFUSED)". */
export function upstreamText(upstream: UpstreamHealth | undefined): string {
  if (!upstream) return "";
  const circuit = enumName(UpstreamCircuit, upstream.circuit);
  const since = upstream.openTime ? ` since ${formatTime(upstream.openTime)}` : "";
  const failures = upstream.consecutiveFailures
    ? ` (${upstream.consecutiveFailures} failures in a row, last ${upstream.lastErrorCode})`
    : "";
  return `${circuit}${since}${failures}`;
}

/** Instances as a table (or the list response as JSON). */
export function printInstances(ctx: Context, instances: McpServerInstance[]): void {
  if (ctx.output === "json") {
    ctx.json(ListInstancesResponseSchema, create(ListInstancesResponseSchema, { instances }));
    return;
  }
  const columns = [
    { header: "NAME", max: 40 },
    { header: "STATUS" },
    { header: "DESIRED" },
    { header: "GEN" },
    { header: "ID" },
    { header: "MESSAGE", max: 50 },
  ];
  const rows = instances.map((i) => [
    i.name,
    enumName(InstanceStatus, i.status),
    enumName(DesiredState, i.desiredState),
    String(i.generation),
    i.id,
    i.statusMessage,
  ]);
  ctx.io.out(formatTable(columns, rows));
}

/**
 * Shows what a change did, then, with --wait, follows the instance until the goal (progress
 * lines) and shows where it ended. Without --wait it shows the instance as answered.
 */
export async function reportChange(
  ctx: Context,
  args: Invocation,
  instance: McpServerInstance | undefined,
  goal: Goal,
): Promise<void> {
  if (!instance) return;
  if (!args.values.wait) return printInstance(ctx, instance);
  const timeoutMs = parseSeconds(args.values.timeout, "timeout", 120);
  printChange(ctx, instance, false);
  let last = instance;
  const reached = await waitForGoal(ctx, instance.id, goal, {
    timeoutMs,
    onChange: (changed) => {
      if (changed !== instance && !sameView(changed, last)) printChange(ctx, changed, false);
      last = changed;
    },
  });
  if (ctx.output === "json") {
    if (reached) ctx.json(McpServerInstanceSchema, reached);
    else ctx.io.out("{}");
    return;
  }
  if (!reached) return ctx.note(`${instance.name} is deleted`);
  const status = enumName(InstanceStatus, reached.status);
  const where =
    reached.status === InstanceStatus.RUNNING ? `; MCP: ${endpointUrl(ctx, reached)}` : "";
  ctx.note(`${reached.name} is ${status} (generation ${reached.generation})${where}`);
}

const sameView = (a: McpServerInstance, b: McpServerInstance) =>
  a.status === b.status && a.generation === b.generation && a.statusMessage === b.statusMessage;
