import { readdirSync, readFileSync } from "node:fs";
import { dialGuarded, splitGuard } from "@berth/platform";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { Agent, fetch as undiciFetch } from "undici";
import { type LatencySummary, summarize } from "../support/stats.js";

/** How a client reaches one MCP target. */
export interface McpTarget {
  key: string;
  label: string;
  /** A fresh transport for one session. */
  transport(): Transport;
  /** Whether this row is Berth's (judged against the floor and the peers). */
  berth: boolean;
  /**
   * The processes that serve this row's calls (their children included: a peer's `docker run`):
   * their CPU time over the measured calls is reported per call.
   */
  pids?: () => number[];
}

/** One measured run of echo calls. */
export interface CallRun extends LatencySummary {
  callsPerSecond: number;
  /** CPU milliseconds (user + system) the target's processes spent per measured call. */
  cpuMsPerCall?: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU milliseconds used so far by these processes and their live descendants (Linux /proc). */
function cpuMsOf(pids: number[]): number {
  let ticks = 0;
  const seen = new Set<number>();
  const visit = (pid: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
        for (const child of children ? children.split(" ") : []) visit(Number(child));
      }
    } catch {
      // gone meanwhile
    }
  };
  for (const pid of pids) visit(pid);
  return ticks * TICK_MS;
}

/** Starts counting the target's CPU; the returned function gives ms per call for `calls`. */
function cpuMeter(target: McpTarget): (calls: number) => number | undefined {
  const pids = target.pids?.();
  if (!pids || pids.length === 0) return () => undefined;
  const before = cpuMsOf(pids);
  return (calls) => (calls > 0 ? (cpuMsOf(pids) - before) / calls : undefined);
}

const CALL_TIMEOUT_MS = 30_000;
const OPEN_IN_PARALLEL = 4;

/**
 * A target over MCP Streamable HTTP at url, with extra request headers. An HTTP container's
 * guard credential among them (as ResolveEndpoint hands it out) opens each connection instead,
 * as the gateway and the runtime's probe do: the container's own port admits nothing else.
 */
export function httpTarget(
  key: string,
  label: string,
  url: string,
  options: { headers?: Record<string, string>; berth?: boolean; pids?: () => number[] } = {},
): McpTarget {
  const { headers, guard } = splitGuard(options.headers ?? {});
  const fetch = guard === undefined ? undefined : guardedFetch(guard);
  return {
    key,
    label,
    berth: options.berth ?? false,
    ...(options.pids ? { pids: options.pids } : {}),
    transport: () =>
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers },
        ...(fetch ? { fetch } : {}),
      }),
  };
}

/** A fetch whose connections open with a port guard's credential (keep-alive, no delay). */
function guardedFetch(guard: string) {
  const dispatcher = new Agent({
    connect: (options, callback) => {
      const socket = dialGuarded(guard, {
        host: options.hostname,
        port: Number(options.port) || 80,
        noDelay: true,
      });
      socket.once("connect", () => callback(null, socket));
      socket.once("error", (error) => callback(error, null));
    },
  });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher })) as typeof fetch;
}

/** An initialized MCP SDK client session on the target. */
export async function openSession(target: McpTarget): Promise<Client> {
  const client = new Client({ name: "berth-bench", version: "1.0.0" });
  await client.connect(target.transport(), { timeout: CALL_TIMEOUT_MS });
  return client;
}

/** Ends the session (DELETE where the transport has sessions) and closes the client. */
export async function closeSession(client: Client): Promise<void> {
  const transport = client.transport;
  if (transport instanceof StreamableHTTPClientTransport) {
    await transport.terminateSession().catch(() => undefined);
  }
  await client.close().catch(() => undefined);
}

let sequence = 0;
async function echo(client: Client): Promise<number> {
  const message = `bench-${++sequence}`;
  const began = performance.now();
  const result = await client.callTool({ name: "echo", arguments: { message } }, undefined, {
    timeout: CALL_TIMEOUT_MS,
  });
  const elapsed = performance.now() - began;
  const text = (result.content as Array<{ text?: string }> | undefined)?.[0]?.text;
  if (text !== `Echo: ${message}`) throw new Error(`unexpected echo answer: ${String(text)}`);
  return elapsed;
}

/**
 * Sequential echo calls on one session: warm-up calls first (not counted), then `calls`, or as
 * many as fit in `maxSeconds` (the count is reported with the figures).
 */
export async function sequentialRun(
  target: McpTarget,
  warmup: number,
  calls: number,
  maxSeconds: number,
): Promise<CallRun> {
  const client = await openSession(target);
  try {
    for (let i = 0; i < warmup; i++) await echo(client);
    const samples: number[] = [];
    const cpu = cpuMeter(target);
    const began = performance.now();
    const until = began + maxSeconds * 1000;
    for (let i = 0; i < calls && performance.now() < until; i++) samples.push(await echo(client));
    const seconds = (performance.now() - began) / 1000;
    const cpuMsPerCall = cpu(samples.length);
    return {
      ...summarize(samples),
      callsPerSecond: samples.length / seconds,
      ...(cpuMsPerCall === undefined ? {} : { cpuMsPerCall }),
    };
  } finally {
    await closeSession(client);
  }
}

/**
 * `sessions` sessions calling at once, each in a closed loop: warm-up calls on every session
 * (not counted), then `perSession` calls each or until `maxSeconds` pass; calls/s over the wall
 * time of the measured part.
 */
export async function concurrentRun(
  target: McpTarget,
  sessions: number,
  warmupPerSession: number,
  perSession: number,
  maxSeconds: number,
): Promise<CallRun> {
  const clients: Client[] = [];
  try {
    // Opened a few at a time (not measured): the stdio floor and supergateway start a container
    // per session, and 16 `docker run` at once outlast the connect timeout on a busy machine.
    for (let opened = 0; opened < sessions; opened += OPEN_IN_PARALLEL) {
      const batch = Math.min(OPEN_IN_PARALLEL, sessions - opened);
      clients.push(
        ...(await Promise.all(Array.from({ length: batch }, () => openSession(target)))),
      );
    }
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < warmupPerSession; i++) await echo(c);
      }),
    );
    const samples: number[] = [];
    const cpu = cpuMeter(target);
    const began = performance.now();
    const until = began + maxSeconds * 1000;
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < perSession && performance.now() < until; i++) {
          samples.push(await echo(c));
        }
      }),
    );
    const seconds = (performance.now() - began) / 1000;
    const cpuMsPerCall = cpu(samples.length);
    return {
      ...summarize(samples),
      callsPerSecond: samples.length / seconds,
      ...(cpuMsPerCall === undefined ? {} : { cpuMsPerCall }),
    };
  } finally {
    await Promise.all(clients.map(closeSession));
  }
}
