/** How much each leg does. Every loop in the bench is bounded by these counts and durations. */
export interface BenchSettings {
  mcp: {
    warmupCalls: number;
    sequentialCalls: number;
    /** A sequential run ends after this many seconds even if calls are left. */
    sequentialSeconds: number;
    sessions: number;
    callsPerSession: number;
    concurrentSeconds: number;
    repeats: number;
  };
  control: { connections: number; seconds: number; warmupSeconds: number; repeats: number };
  ready: { repeats: number };
  /** Wake-ups of an idle instance, each beside a docker run floor. */
  wake: { repeats: number };
  events: {
    /** Events created as fast as the service takes them, to find the pipeline's throughput. */
    burst: number;
    warmup: number;
    /** Latency runs: at most this many events, or repeatSeconds at the paced rate. */
    perRepeat: number;
    repeatSeconds: number;
    repeats: number;
    /** The latency runs are paced at this share of the measured throughput. */
    load: number;
    /** Events of the profiled extra burst. */
    profiled: number;
  };
  scale: { instances: number; servers: number; passes: number };
  /** Runtimes killed in turn while sharing `instances` stdio workloads by lease. */
  handover: { instances: number; repeats: number };
  /** Each service started alone, compiled and through tsx; memory read after settleMs idle. */
  startup: { repeats: number; settleMs: number };
}

const FULL: BenchSettings = {
  mcp: {
    warmupCalls: 100,
    sequentialCalls: 1000,
    sequentialSeconds: 10,
    sessions: 16,
    callsPerSession: 50,
    concurrentSeconds: 6,
    repeats: 3,
  },
  control: { connections: 16, seconds: 3, warmupSeconds: 1, repeats: 3 },
  ready: { repeats: 5 },
  wake: { repeats: 5 },
  events: {
    // The size issue 14 names: the runtime applies a burst of 2,000 at the rate they come.
    burst: 2000,
    warmup: 30,
    perRepeat: 500,
    repeatSeconds: 20,
    repeats: 3,
    load: 0.5,
    profiled: 200,
  },
  scale: { instances: 1000, servers: 4, passes: 5 },
  handover: { instances: 8, repeats: 3 },
  startup: { repeats: 3, settleMs: 3_000 },
};

// A smoke run of the whole bench in a minute or two: figures too few to mean anything.
const QUICK: BenchSettings = {
  mcp: {
    warmupCalls: 20,
    sequentialCalls: 100,
    sequentialSeconds: 5,
    sessions: 16,
    callsPerSession: 10,
    concurrentSeconds: 5,
    repeats: 1,
  },
  control: { connections: 16, seconds: 1, warmupSeconds: 1, repeats: 1 },
  ready: { repeats: 1 },
  wake: { repeats: 1 },
  events: {
    burst: 100,
    warmup: 10,
    perRepeat: 100,
    repeatSeconds: 5,
    repeats: 1,
    load: 0.5,
    profiled: 50,
  },
  scale: { instances: 100, servers: 2, passes: 2 },
  handover: { instances: 4, repeats: 1 },
  startup: { repeats: 1, settleMs: 1_000 },
};

/** The settings: full unless BENCH_QUICK=1 (a smoke run, marked as such in the results). */
export function benchSettings(env: NodeJS.ProcessEnv = process.env): {
  settings: BenchSettings;
  quick: boolean;
} {
  const quick = env.BENCH_QUICK === "1";
  const settings = structuredClone(quick ? QUICK : FULL);
  // BENCH_MCP_REPEATS=N: fewer (or more) repeats of the MCP leg, e.g. while working on it.
  const repeats = Number(env.BENCH_MCP_REPEATS);
  if (Number.isInteger(repeats) && repeats >= 1 && repeats <= 10) settings.mcp.repeats = repeats;
  return { settings, quick };
}
