import { BerthError, type McpServerInstance, WatchInstancesResponseSchema } from "@berth/sdk";
import { Interrupted } from "../errors.js";
import { clock } from "../format.js";
import type { Context } from "../types.js";
import { printChange } from "./wait.js";

// The gateway ends a stream at the caller's deadline: a long watch is a chain of shorter ones.
const CHUNK_MS = 300_000;
const RETRY_PAUSE_MS = 1_000;

/**
 * Follows WatchInstances: one line per change of any instance (JSON lines of
 * WatchInstancesResponse under -o json), until timeoutMs passes (0: until Ctrl-C). When the
 * stream is cut (the gateway or the service went away, or it fell behind) it is opened again.
 */
export async function watchAllInstances(ctx: Context, timeoutMs: number): Promise<void> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  const asJson = ctx.output === "json";
  while (Date.now() < deadline) {
    if (ctx.io.signal.aborted) throw new Interrupted();
    const abort = new AbortController();
    const stop = () => abort.abort();
    ctx.io.signal.addEventListener("abort", stop);
    try {
      const stream = ctx.berth.instances.watchInstances(
        {},
        { timeoutMs: Math.min(deadline - Date.now(), CHUNK_MS), signal: abort.signal },
      );
      for await (const message of stream) {
        if (asJson) ctx.json(WatchInstancesResponseSchema, message, true);
        else if (message.deleted) printDeleted(ctx, message.instance);
        else if (message.instance) printChange(ctx, message.instance, false);
      }
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      if (ctx.io.signal.aborted) throw new Interrupted();
      if (error.code === "UNAVAILABLE") {
        ctx.note(`${clock()}  watch interrupted (${error.message}); watching again`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      } else if (error.code !== "DEADLINE_EXCEEDED" && error.code !== "CANCELED") {
        throw error;
      }
    } finally {
      ctx.io.signal.removeEventListener("abort", stop);
      abort.abort();
    }
  }
}

function printDeleted(ctx: Context, instance: McpServerInstance | undefined): void {
  ctx.note(`${clock()}  ${instance?.name || instance?.id || "?"}  deleted`);
}
