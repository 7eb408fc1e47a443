import type { McpServerInstanceIdleChanged } from "@berth/proto/gen/berth/events/v1/events_pb";
import { tapEvents } from "../events/event-tap.js";
import type { BenchMesh } from "../mesh/bench-mesh.js";
import type { BerthApi } from "../mesh/berth-api.js";
import { dockerFloorRun, type FloorRun } from "../ready/docker-floor.js";
import type { BenchContext } from "../support/context.js";
import { waitUntil } from "../support/stats.js";

/** One wake-up through Berth. */
export interface BerthWake {
  /** MCP initialize sent to /mcp/{instance} of an IDLE instance → its answer received. */
  totalMs: number;
  /** The runtime's part (McpServerInstanceIdleChanged.wake_millis): wake asked → probe answered. */
  runtimeMs: number;
}

/** Section 7 of the results. */
export interface WakeResult {
  image: string;
  idleTimeoutSeconds: number;
  berth: BerthWake[];
  floor: FloorRun[];
}

const IMAGE = "berth/mcp-everything:stdio";
const STDIO_SERVER = "io.github.modelcontextprotocol/everything";
const IDLE_TIMEOUT_SECONDS = 2;
const WAIT_MS = 90_000;

/**
 * Scale to zero's price: an stdio instance with a short idle timeout is left to go IDLE (no
 * container), then one MCP initialize is sent through the gateway and timed until its answer;
 * alternating with the floor, `docker run -i` of the same image until its answer to initialize.
 */
export async function wakeLeg(
  ctx: BenchContext,
  mesh: BenchMesh,
  api: BerthApi,
  natsUrl: string,
): Promise<WakeResult> {
  const result: WakeResult = {
    image: IMAGE,
    idleTimeoutSeconds: IDLE_TIMEOUT_SECONDS,
    berth: [],
    floor: [],
  };
  const wakes: number[] = [];
  const tap = await tapEvents(natsUrl, ["berth.runtime.instance.idle_changed"], (event) => {
    const change = event.payload as McpServerInstanceIdleChanged;
    if (!change.idle) wakes.push(Number(change.wakeMillis));
  });
  const name = `wake-${ctx.runId.slice(-4)}`;
  const id = await api.createInstance({
    name,
    serverId: STDIO_SERVER,
    jsonSpec: { idle: { timeout: IDLE_TIMEOUT_SECONDS } },
  });
  try {
    await api.waitForStatus(id, "INSTANCE_STATUS_RUNNING", WAIT_MS);
    await dockerFloorRun(IMAGE, ctx.runId, `berth-bench-wake-warmup-${ctx.runId}`); // warm caches
    for (let repeat = 1; repeat <= ctx.settings.wake.repeats; repeat++) {
      ctx.say(`  repeat ${repeat}/${ctx.settings.wake.repeats}: docker run floor, then a wake-up`);
      result.floor.push(
        await dockerFloorRun(IMAGE, ctx.runId, `berth-bench-wake-floor-${repeat}-${ctx.runId}`),
      );
      await api.waitForStatus(id, "INSTANCE_STATUS_IDLE", WAIT_MS);
      const seen = wakes.length;
      const began = performance.now();
      const answer = await fetch(`${mesh.gatewayUrl}/mcp/${name}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${mesh.apiKey}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-06-18",
            capabilities: {},
            clientInfo: { name: "berth-bench", version: "1.0.0" },
          },
        }),
        signal: AbortSignal.timeout(WAIT_MS),
      });
      const text = await answer.text();
      const totalMs = performance.now() - began;
      if (answer.status !== 200 || !text.includes('"result"')) {
        throw new Error(`the wake-up answered ${answer.status}: ${text.slice(0, 200)}`);
      }
      const runtimeMs = await waitUntil(
        "the wake-up's McpServerInstanceIdleChanged",
        async () => wakes[seen],
        30_000,
      );
      result.berth.push({ totalMs, runtimeMs });
    }
    return result;
  } finally {
    await tap.close();
    await api.deleteInstance(id, 60_000).catch(() => undefined);
  }
}
