import { join } from "node:path";
import type { BenchMesh } from "../mesh/bench-mesh.js";
import type { BerthApi } from "../mesh/berth-api.js";
import type { BenchContext } from "../support/context.js";
import { type ProfileSummary, summarizeProfile } from "../support/cpu-profile.js";
import { medianOf } from "../support/stats.js";
import {
  type CallRun,
  concurrentRun,
  httpTarget,
  type McpTarget,
  sequentialRun,
} from "./mcp-load.js";
import { hardenedDockerRun, startPeerServers } from "./peer-servers.js";

/** The figures of one target: its runs, and their medians. */
export interface TargetResult {
  key: string;
  label: string;
  berth: boolean;
  sequential: CallRun[];
  concurrent: CallRun[];
}

/** Section 1 of the results. */
export interface McpPathResult {
  targets: TargetResult[];
  /** CPU profiles of the gateway and the runtime during extra calls through Berth. */
  profiles: Array<{ process: string; summary: ProfileSummary; file: string }>;
}

const STDIO_SERVER = "io.github.modelcontextprotocol/everything";
/** The image of STDIO_SERVER's catalog entry: the peers and the floor run it as Berth does. */
const STDIO_IMAGE = "berth/mcp-everything:stdio";
const HTTP_SERVER = "io.github.modelcontextprotocol/everything-http";
const CONCURRENT_WARMUP = 5;

/**
 * Echo calls to server-everything in the same hardened container every way: the SDK's stdio
 * client on `docker run -i` (the stdio floor), Berth to an stdio instance, the npm peer bridges
 * wrapping `docker run -i`, the http container at its own published port (the http floor) and
 * Berth to it, plus Berth's parts alone as diagnostics; sequential then 16 sessions at once;
 * repeats go round-robin over the targets so that drift on the machine hits all alike.
 */
export async function mcpPathLeg(
  ctx: BenchContext,
  mesh: BenchMesh,
  api: BerthApi,
): Promise<McpPathResult> {
  const { mcp } = ctx.settings;
  const peers = await startPeerServers(
    ctx.root,
    ctx.logDir,
    hardenedDockerRun(STDIO_IMAGE, `berth.bench=${ctx.runId}`),
  );
  const created: string[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    ctx.say("  creating the Berth instances (stdio and http containers)");
    const stdioId = await api.createInstance({ name: "bench-stdio", serverId: STDIO_SERVER });
    created.push(stdioId);
    const httpId = await api.createInstance({ name: "bench-http", serverId: HTTP_SERVER });
    created.push(httpId);
    await api.waitForStatus(stdioId, "INSTANCE_STATUS_RUNNING", 90_000);
    await api.waitForStatus(httpId, "INSTANCE_STATUS_RUNNING", 90_000);
    // A virtual server whose only member is the stdio instance, without a prefix: the same echo
    // calls, through /mcp/v/{name} (an SDK Server and a member Client per session).
    const vs = await api.rest("POST", "/v1/virtualServers", {
      name: "bench-vs",
      members: [{ instance: "bench-stdio", prefix: "" }],
    });
    if (vs.status !== 200) throw new Error(`POST /v1/virtualServers: ${vs.status}`);
    // The diagnostic variant: a second gateway that reaches the bridge with an HTTP request per
    // exchange instead of its channel (the design before it), everything else the same.
    const httpHop = await mesh.extraGateway("gateway-http-hop", [], {
      MCP_BRIDGE_CHANNEL: "false",
    });
    stops.push(() => httpHop.stop());
    const bridge = await api.grpc.runtime.resolveEndpoint({ instanceId: stdioId });
    const container = await api.grpc.runtime.resolveEndpoint({ instanceId: httpId });
    const auth = { authorization: `Bearer ${mesh.apiKey}` };
    // Berth's processes on each row's path: their CPU per call is reported beside the peers'.
    const gatewayPid = mesh.services.gateway!.pid;
    const runtimePid = mesh.services.runtime!.pid;
    const viaBridge = () => [gatewayPid, runtimePid];
    const [floor, ...bridges] = peers.targets;
    const gatewayStdio = httpTarget(
      "berth-stdio",
      "(b) Berth gateway /mcp/{instance} → stdio container",
      `${mesh.gatewayUrl}/mcp/bench-stdio`,
      { headers: auth, berth: true, pids: viaBridge },
    );
    const targets: McpTarget[] = [
      floor!,
      gatewayStdio,
      httpTarget(
        "berth-virtual",
        "(b) Berth gateway /mcp/v/{name} → stdio container (a virtual server of one member)",
        `${mesh.gatewayUrl}/mcp/v/bench-vs`,
        { headers: auth, berth: true },
      ),
      ...bridges,
      httpTarget(
        "floor-http",
        "(a) the http container at its own published port (floor of the http rows)",
        container.url,
        { headers: { ...container.headers } },
      ),
      httpTarget(
        "berth-http",
        "(b) Berth gateway /mcp/{instance} → http container",
        `${mesh.gatewayUrl}/mcp/bench-http`,
        { headers: auth, berth: true, pids: () => [gatewayPid] },
      ),
      httpTarget(
        "berth-http-hop",
        "Berth gateway → stdio container, an HTTP request per exchange to the bridge instead of the channel (diagnostic)",
        `http://127.0.0.1:${httpHop.port}/mcp/bench-stdio`,
        { headers: auth, berth: true, pids: () => [httpHop.pid, runtimePid] },
      ),
      httpTarget("bridge", "Berth runtime stdio bridge alone (no gateway)", bridge.url, {
        headers: { ...bridge.headers },
        berth: true,
        pids: () => [runtimePid],
      }),
    ];
    // BENCH_MCP_TARGETS=floor-stdio,berth-stdio,… measures only the rows named (by key).
    const only = process.env.BENCH_MCP_TARGETS?.split(",").map((k) => k.trim());
    if (only) targets.splice(0, targets.length, ...targets.filter((t) => only.includes(t.key)));
    const results = targets.map((t) => ({
      key: t.key,
      label: t.label,
      berth: t.berth,
      sequential: [] as CallRun[],
      concurrent: [] as CallRun[],
    }));
    for (let repeat = 1; repeat <= mcp.repeats; repeat++) {
      for (const [i, target] of targets.entries()) {
        ctx.say(`  repeat ${repeat}/${mcp.repeats}: ${target.key}, sequential`);
        results[i]!.sequential.push(
          await sequentialRun(target, mcp.warmupCalls, mcp.sequentialCalls, mcp.sequentialSeconds),
        );
      }
      for (const [i, target] of targets.entries()) {
        ctx.say(`  repeat ${repeat}/${mcp.repeats}: ${target.key}, ${mcp.sessions} sessions`);
        results[i]!.concurrent.push(
          await concurrentRun(
            target,
            mcp.sessions,
            CONCURRENT_WARMUP,
            mcp.callsPerSession,
            mcp.concurrentSeconds,
          ),
        );
      }
    }
    ctx.say("  profiling the gateway and the runtime during extra calls (not measured)");
    const profiles = await profileBerth(ctx, mesh, gatewayStdio);
    return { targets: results, profiles };
  } finally {
    for (const stop of stops) await stop();
    await peers.stop();
    for (const id of created) await api.deleteInstance(id, 60_000).catch(() => undefined);
  }
}

/** Profiles the gateway and the runtime in-process (inspector) during a bounded extra run. */
async function profileBerth(ctx: BenchContext, mesh: BenchMesh, target: McpTarget) {
  const { mcp } = ctx.settings;
  const processes = [mesh.services.gateway!, mesh.services.runtime!];
  for (const p of processes) await p.request({ op: "profile-start" });
  try {
    await sequentialRun(target, 0, mcp.sequentialCalls, mcp.sequentialSeconds / 2);
    await concurrentRun(target, mcp.sessions, 0, mcp.callsPerSession, mcp.concurrentSeconds / 2);
  } finally {
    for (const p of processes) {
      await p.request({ op: "profile-stop", file: join(ctx.outDir, `${p.name}.cpuprofile`) });
    }
  }
  const profiles = [];
  for (const p of processes) {
    const file = join(ctx.outDir, `${p.name}.cpuprofile`);
    profiles.push({ process: p.name, summary: await summarizeProfile(file), file });
  }
  return profiles;
}

/** Medians of a target's runs. */
export function targetMedians(result: TargetResult) {
  return {
    seqCount: medianOf(result.sequential, (r) => r.count),
    conCount: medianOf(result.concurrent, (r) => r.count),
    seqP50: medianOf(result.sequential, (r) => r.p50),
    seqP99: medianOf(result.sequential, (r) => r.p99),
    seqRate: medianOf(result.sequential, (r) => r.callsPerSecond),
    conRate: medianOf(result.concurrent, (r) => r.callsPerSecond),
    conP50: medianOf(result.concurrent, (r) => r.p50),
    conP99: medianOf(result.concurrent, (r) => r.p99),
    seqCpu: medianOf(result.sequential, (r) => r.cpuMsPerCall ?? Number.NaN),
    conCpu: medianOf(result.concurrent, (r) => r.cpuMsPerCall ?? Number.NaN),
  };
}
