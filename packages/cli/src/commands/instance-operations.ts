import {
  ListInstanceToolsResponseSchema,
  StreamLogsResponseSchema,
  WorkloadSchema,
  WorkloadState,
} from "@berth/sdk";
import { parseCount, parseSeconds } from "../args.js";
import { Interrupted } from "../errors.js";
import { formatTable } from "../table.js";
import type { CommandGroup, Context } from "../types.js";
import { reportChange, WAIT_OPTIONS } from "./instance-view.js";
import { printChange, runningGoal, stoppedGoal, waitForGoal } from "./wait.js";
import { watchAllInstances } from "./watch-all.js";

const one = { min: 1, max: 1 };
// logs --follow runs until Ctrl-C; the gateway needs a deadline to forward, so give a far one.
const FOLLOW_MS = 24 * 3600_000;

/** The runtime keys workloads by instance id: a name is looked up first. */
async function instanceId(ctx: Context, idOrName: string): Promise<string> {
  return (await ctx.berth.instances.getInstance({ id: idOrName })).instance!.id;
}

/** Lifecycle and observation commands of `berth instances`. */
export const instanceOperations: CommandGroup = {
  start: {
    usage: "<id|name> [--wait] [--timeout 120]",
    summary: "Set the desired state to running; --wait until RUNNING",
    options: { ...WAIT_OPTIONS },
    positionals: one,
    async run(ctx, args) {
      const { instance } = await ctx.berth.instances.startInstance({ id: args.positionals[0]! });
      await reportChange(ctx, args, instance, runningGoal(ctx));
    },
  },
  stop: {
    usage: "<id|name> [--wait] [--timeout 120]",
    summary: "Set the desired state to stopped; --wait until STOPPED",
    options: { ...WAIT_OPTIONS },
    positionals: one,
    async run(ctx, args) {
      const { instance } = await ctx.berth.instances.stopInstance({ id: args.positionals[0]! });
      await reportChange(ctx, args, instance, stoppedGoal);
    },
  },
  restart: {
    usage: "<id|name> [--wait] [--timeout 120]",
    summary: "Replace the workload with a new generation; --wait until it is RUNNING",
    options: { ...WAIT_OPTIONS },
    positionals: one,
    async run(ctx, args) {
      const { instance } = await ctx.berth.instances.restartInstance({ id: args.positionals[0]! });
      await reportChange(ctx, args, instance, runningGoal(ctx, instance?.generation ?? 0n));
    },
  },
  watch: {
    usage: "[<id|name>] [--timeout SECONDS]",
    summary:
      "Show each status change until RUNNING or FAILED; without an instance, every change of any instance (Ctrl-C stops)",
    options: { timeout: { type: "string" } },
    positionals: { min: 0, max: 1 },
    async run(ctx, { values, positionals }) {
      const timeoutMs = parseSeconds(values.timeout, "timeout", 0);
      if (positionals.length === 0) return watchAllInstances(ctx, timeoutMs);
      const asJson = ctx.output === "json";
      await waitForGoal(ctx, positionals[0]!, runningGoal(ctx), {
        timeoutMs,
        onChange: (instance) => printChange(ctx, instance, asJson),
      });
    },
  },
  workload: {
    usage: "<id|name>",
    summary: "Show the workload: the runtime that owns it, its engine, state and container",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const id = await instanceId(ctx, positionals[0]!);
      const { workload } = await ctx.berth.runtime.getWorkload({ instanceId: id });
      if (!workload) return;
      if (ctx.output === "json") return ctx.json(WorkloadSchema, workload);
      ctx.io.out(
        formatTable(
          [{ header: "FIELD" }, { header: "VALUE", max: 100 }],
          [
            ["owner", workload.owner || "(none: being taken over)"],
            ["engine", workload.engine],
            ["state", WorkloadState[workload.state] ?? String(workload.state)],
            ["generation", String(workload.generation)],
            ["container", workload.containerId],
            ["restarts", String(workload.restartCount)],
            ["message", workload.message],
          ],
        ),
      );
    },
  },
  tools: {
    usage: "<id|name>",
    summary: "List the MCP tools the last health probe saw",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const id = await instanceId(ctx, positionals[0]!);
      const response = await ctx.berth.runtime.listInstanceTools({ instanceId: id });
      if (ctx.output === "json") return ctx.json(ListInstanceToolsResponseSchema, response);
      const columns = [
        { header: "NAME", max: 40 },
        { header: "DESCRIPTION", max: 80 },
      ];
      ctx.io.out(
        formatTable(
          columns,
          response.tools.map((t) => [t.name, t.description]),
        ),
      );
    },
  },
  logs: {
    usage: "<id|name> [--follow] [--tail N]",
    summary: "Print the workload's log lines; --follow keeps printing until Ctrl-C",
    options: { follow: { type: "boolean", short: "f" }, tail: { type: "string" } },
    positionals: one,
    async run(ctx, { values, positionals }) {
      const tailLines = parseCount(values.tail, "tail") ?? 0;
      const follow = values.follow === true;
      const id = await instanceId(ctx, positionals[0]!);
      const stream = ctx.berth.runtime.streamLogs(
        { instanceId: id, follow, tailLines },
        { signal: ctx.io.signal, ...(follow ? { timeoutMs: FOLLOW_MS } : {}) },
      );
      try {
        for await (const entry of stream) {
          if (ctx.output === "json") ctx.json(StreamLogsResponseSchema, entry, true);
          else ctx.io.out(entry.line);
        }
      } catch (error) {
        if (ctx.io.signal.aborted) throw new Interrupted(); // Ctrl-C ends a follow quietly
        throw error;
      }
    },
  },
};
