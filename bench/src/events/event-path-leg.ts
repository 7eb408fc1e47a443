import { join } from "node:path";
import type { BenchMesh } from "../mesh/bench-mesh.js";
import type { BerthApi } from "../mesh/berth-api.js";
import type { CapturedLine } from "../mesh/protocol.js";
import type { BenchContext } from "../support/context.js";
import { type ProfileSummary, summarizeProfile } from "../support/cpu-profile.js";
import { type LatencySummary, summarize, waitUntil, wallMs } from "../support/stats.js";
import { createStopped } from "./event-load.js";
import { type SeenEvent, tapEvents } from "./event-tap.js";

/** The latencies of one paced repeat, ms. */
export interface EventPathRun {
  events: number;
  /** occurred_at (in the instances service's transaction) → the runtime's handler applied it. */
  endToEnd: LatencySummary;
  /** occurred_at → published on NATS (outbox relay), as a core subscriber sees it. */
  relay: LatencySummary;
  /** published → the runtime's handler (JetStream delivery, inbox, the workload row). */
  consume: LatencySummary;
  /** Events per second achieved. */
  rate: number;
  failures: number;
}

/** Section 4 of the results. */
export interface EventPathResult {
  /** The burst: events, creates/s, and events/s from the first create to the last handled. */
  burst: { events: number; createRate: number; handledRate: number };
  /** The rate the latency runs were offered (a share of burst.handledRate). */
  pacedRate: number;
  runs: EventPathRun[];
  profile?: { during: string; summary: ProfileSummary };
}

// The runtime's own debug line, written by its instance-event handler once the change is applied.
const HANDLER_LINE = "desired state applied";
// A burst of 2,000 at a slow runtime takes minutes; the leg reports the rate it found rather than
// nothing.
const DRAIN_TIMEOUT_MS = 300_000;

/**
 * McpServerInstanceCreated from the instances service to the runtime's handler. First a burst
 * finds the pipeline's throughput; then paced repeats (a share of that throughput, so the figures
 * are latency rather than queueing) are timed from each envelope's occurred_at to the runtime's
 * handler, warm-up events left out; last, the runtime is profiled during an extra burst.
 */
export async function eventPathLeg(
  ctx: BenchContext,
  mesh: BenchMesh,
  api: BerthApi,
  natsUrl: string,
): Promise<EventPathResult> {
  const settings = ctx.settings.events;
  const runtime = mesh.services.runtime!;
  const published = new Map<string, SeenEvent>();
  const tap = await tapEvents(natsUrl, ["berth.instances.instance.created"], (event) => {
    published.set(event.envelope.aggregateId, event);
  });
  let expected = 0;
  const drained = (what: string) =>
    waitUntil(
      what,
      async () =>
        (await runtime.request<number>({ op: "capture-count" })) >= expected ? true : undefined,
      DRAIN_TIMEOUT_MS,
      50,
    );
  await runtime.request({ op: "capture-start", message: HANDLER_LINE });
  let lines: CapturedLine[] = [];
  const paced: Array<{ measured: string[]; rate: number; failures: number }> = [];
  let burst: EventPathResult["burst"];
  let pacedRate: number;
  try {
    ctx.say(`  a burst of ${settings.burst} events, as fast as they are taken`);
    const began = wallMs();
    const batch = await createStopped(api, settings.burst, Number.POSITIVE_INFINITY);
    expected += batch.ids.length;
    await drained("the runtime to apply the burst");
    const burstLines = await runtime.request<CapturedLine[]>({ op: "capture-stop" });
    const last = Math.max(...burstLines.map((line) => line.at));
    burst = {
      events: batch.ids.length,
      createRate: batch.rate,
      handledRate: batch.ids.length / ((last - began) / 1000),
    };
    pacedRate = Math.min(100, Math.max(5, burst.handledRate * settings.load));
    const count = Math.min(settings.perRepeat, Math.round(pacedRate * settings.repeatSeconds));

    expected = 0;
    await runtime.request({ op: "capture-start", message: HANDLER_LINE });
    for (let repeat = 1; repeat <= settings.repeats; repeat++) {
      ctx.say(
        `  repeat ${repeat}/${settings.repeats}: ${settings.warmup + count} events at ${pacedRate.toFixed(1)}/s`,
      );
      const run = await createStopped(api, settings.warmup + count, pacedRate);
      paced.push({
        measured: run.ids.slice(settings.warmup),
        rate: run.rate,
        failures: run.failures,
      });
      expected += run.ids.length;
      await drained("the runtime to apply every event");
    }
  } finally {
    lines = await runtime.request<CapturedLine[]>({ op: "capture-stop" });
  }
  const profile = await profileBurst(ctx, mesh, api, settings.profiled);
  await tap.close();

  const handled = new Map<string, number>();
  for (const line of lines)
    if (!handled.has(line.instanceId)) handled.set(line.instanceId, line.at);
  const runs = paced.map(({ measured, rate, failures }) => {
    const endToEnd: number[] = [];
    const relay: number[] = [];
    const consume: number[] = [];
    for (const id of measured) {
      const seen = published.get(id);
      const at = handled.get(id);
      if (!seen || at === undefined) continue;
      endToEnd.push(at - seen.occurredAt);
      relay.push(seen.seenAt - seen.occurredAt);
      consume.push(at - seen.seenAt);
    }
    return {
      events: endToEnd.length,
      endToEnd: summarize(endToEnd),
      relay: summarize(relay),
      consume: summarize(consume),
      rate,
      failures,
    };
  });
  return { burst, pacedRate, runs, profile };
}

/** The runtime's CPU profile while it works through a burst of events (not measured). */
async function profileBurst(ctx: BenchContext, mesh: BenchMesh, api: BerthApi, events: number) {
  const runtime = mesh.services.runtime!;
  const file = join(ctx.outDir, "runtime-events.cpuprofile");
  ctx.say(`  profiling the runtime during a burst of ${events} events (not measured)`);
  await runtime.request({ op: "capture-start", message: HANDLER_LINE });
  await runtime.request({ op: "profile-start" });
  try {
    const batch = await createStopped(api, events, Number.POSITIVE_INFINITY);
    await waitUntil(
      "the runtime to apply the profiled burst",
      async () =>
        (await runtime.request<number>({ op: "capture-count" })) >= batch.ids.length
          ? true
          : undefined,
      DRAIN_TIMEOUT_MS,
      50,
    );
  } finally {
    await runtime.request({ op: "profile-stop", file });
    await runtime.request({ op: "capture-stop" });
  }
  return { during: `a burst of ${events} events`, summary: await summarizeProfile(file) };
}
