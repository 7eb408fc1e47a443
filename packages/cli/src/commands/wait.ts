import {
  BerthError,
  InstanceStatus,
  type McpServerInstance,
  McpServerInstanceSchema,
  WorkloadState,
} from "@berth/sdk";
import { CommandFailed, Interrupted } from "../errors.js";
import { clock, enumName } from "../format.js";
import type { Context } from "../types.js";

/** What one state of the instance means for the wait. */
export type Verdict = "done" | "failed" | "recheck" | undefined;

/** What a wait waits for. */
export interface Goal {
  /** For messages: "RUNNING", "STOPPED", "deleted". */
  target: string;
  judge(instance: McpServerInstance): Promise<Verdict>;
  /** The instance going away reaches the goal (delete --wait). */
  gone?: boolean;
}

// The gateway ends a stream at the caller's deadline: a long watch is a chain of shorter ones.
const CHUNK_MS = 300_000;
const RECHECK_MS = 1_000;
const RETRY_PAUSE_MS = 250;

/**
 * RUNNING (FAILED fails). After a restart or a new secret the status may still describe the old
 * generation, so with minGeneration the runtime's workload must show that generation too.
 */
export function runningGoal(ctx: Context, minGeneration = 0n): Goal {
  return {
    target: "RUNNING",
    async judge(instance) {
      const verdict =
        instance.status === InstanceStatus.RUNNING
          ? "done"
          : instance.status === InstanceStatus.FAILED
            ? "failed"
            : undefined;
      if (!verdict || minGeneration === 0n) return verdict;
      if (instance.generation < minGeneration) return undefined;
      const workload = await ctx.berth.runtime
        .getWorkload({ instanceId: instance.id })
        .then((r) => r.workload)
        .catch(() => undefined);
      if (!workload || workload.generation < minGeneration) return "recheck";
      const state = verdict === "done" ? WorkloadState.RUNNING : WorkloadState.FAILED;
      return workload.state === state ? verdict : "recheck";
    },
  };
}

/** STOPPED. */
export const stoppedGoal: Goal = {
  target: "STOPPED",
  judge: async (i) => (i.status === InstanceStatus.STOPPED ? "done" : undefined),
};

/** Gone (the runtime confirmed the workload removed and the instance was deleted). */
export const goneGoal: Goal = { target: "deleted", judge: async () => undefined, gone: true };

/** Prints one line per change of status, generation or message (JSON lines under -o json). */
export function printChange(ctx: Context, instance: McpServerInstance, asJson: boolean): void {
  if (asJson) {
    ctx.json(McpServerInstanceSchema, instance, true);
    return;
  }
  const status = enumName(InstanceStatus, instance.status);
  const message = instance.statusMessage ? `  ${instance.statusMessage}` : "";
  ctx.note(`${clock()}  ${instance.name}  ${status}  generation ${instance.generation}${message}`);
}

const sameState = (a: McpServerInstance | undefined, b: McpServerInstance) =>
  a?.status === b.status &&
  a.generation === b.generation &&
  a.statusMessage === b.statusMessage &&
  a.desiredState === b.desiredState;

/**
 * Follows WatchInstance until the goal is reached (resolves with the instance, or undefined once
 * it is gone), it fails (CommandFailed FAILED), timeoutMs passes (CommandFailed
 * DEADLINE_EXCEEDED; 0 waits without end) or Ctrl-C (Interrupted).
 */
export async function waitForGoal(
  ctx: Context,
  idOrName: string,
  goal: Goal,
  options: { timeoutMs: number; onChange: (instance: McpServerInstance) => void },
): Promise<McpServerInstance | undefined> {
  const deadline =
    options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  let last: McpServerInstance | undefined;
  while (true) {
    if (ctx.io.signal.aborted) throw new Interrupted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const status = last ? enumName(InstanceStatus, last.status) : "unknown";
      const seconds = Math.round(options.timeoutMs / 1000);
      throw new CommandFailed(
        "DEADLINE_EXCEEDED",
        `instance ${last?.name ?? idOrName} is not ${goal.target} after ${seconds} s (status ${status})`,
      );
    }
    const abort = new AbortController();
    const stop = () => abort.abort();
    ctx.io.signal.addEventListener("abort", stop);
    let recheck: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = Math.min(remaining, CHUNK_MS);
      const stream = ctx.berth.instances.watchInstance(
        { id: idOrName },
        { timeoutMs, signal: abort.signal },
      );
      for await (const { instance } of stream) {
        if (!instance) continue;
        if (!sameState(last, instance)) options.onChange(instance);
        last = instance;
        const verdict = await goal.judge(instance);
        if (verdict === "done") return instance;
        if (verdict === "failed") {
          const reason = instance.statusMessage || "no reason given";
          throw new CommandFailed("FAILED", `instance ${instance.name} failed: ${reason}`);
        }
        clearTimeout(recheck);
        // Not sure yet (old generation): look again soon even if nothing changes.
        if (verdict === "recheck") recheck = setTimeout(stop, RECHECK_MS);
      }
      // The stream ends when the instance is gone; make sure that is why.
      await ctx.berth.instances.getInstance({ id: last?.id ?? idOrName });
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      if (error.code === "NOT_FOUND" && last) {
        if (goal.gone) return undefined;
        throw new CommandFailed("NOT_FOUND", `instance ${last.name} was deleted`);
      }
      if (error.code === "NOT_FOUND" && goal.gone) return undefined;
      if (error.code !== "DEADLINE_EXCEEDED" && error.code !== "CANCELED") throw error;
    } finally {
      clearTimeout(recheck);
      ctx.io.signal.removeEventListener("abort", stop);
      abort.abort(); // ends the call and its deadline timer when we leave the stream early
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
  }
}
