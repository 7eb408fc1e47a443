import { join } from "node:path";
import { findFreePort, waitForPort } from "@berth/testkit/engines";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { spawnTracked, type Tracked } from "../support/processes.js";
import { closeSession, httpTarget, type McpTarget, openSession } from "./mcp-load.js";

/** The npm peer bridges and the container-stdio floor, all around the same hardened container. */
export interface PeerServers {
  targets: McpTarget[];
  /** Process ids of the bridges, for the memory figures. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

const READY_MS = 30_000;

/**
 * `docker run -i` of image with the hardening the runtime gives an stdio instance by default
 * (services/runtime/src/drivers/docker/container-options.ts: 512 MiB, 1 CPU, 256 pids,
 * read-only root with a noexec tmpfs /tmp, every capability dropped, no-new-privileges, user
 * nobody), labelled so that the bench removes whatever a peer leaves behind. The runtime gives
 * each instance a network of its own; an stdio server needs none, so it gets none here.
 */
export function hardenedDockerRun(image: string, label: string): string[] {
  return [
    "docker",
    "run",
    "-i",
    "--rm",
    "--label",
    label,
    "--memory",
    "512m",
    "--memory-swap",
    "512m",
    "--cpus",
    "1",
    "--pids-limit",
    "256",
    "--read-only",
    "--tmpfs",
    "/tmp:rw,noexec,nosuid,size=64m",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "65534:65534",
    "--network",
    "none",
    image,
  ];
}

/**
 * Starts supergateway (stateful Streamable HTTP, its only mode with sessions: one stdio child per
 * session) and mcp-proxy (one shared stdio child), each wrapping `dockerRun` (the same hardened
 * container Berth runs), and describes the container-stdio floor: the SDK's stdio client on
 * `docker run -i` of that container (one container per session), no HTTP at all.
 */
export async function startPeerServers(
  root: string,
  logDir: string,
  dockerRun: string[],
): Promise<PeerServers> {
  const bin = (name: string) => join(root, "bench", "node_modules", ".bin", name);
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" };
  const started: Tracked[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const [sgPort, mpPort] = [await findFreePort(), await findFreePort()];
    const run = (name: string, command: string, args: string[]) => {
      const tracked = spawnTracked(name, command, args, {
        cwd: root,
        env,
        logFile: join(logDir, `${name}.log`),
      });
      started.push(tracked);
      return tracked;
    };
    // supergateway takes the command as one string and runs it through a shell; every argument
    // here is a plain word (no spaces or shell characters), so joining keeps it intact.
    const sg = run("supergateway", bin("supergateway"), [
      "--stdio",
      dockerRun.join(" "),
      "--outputTransport",
      "streamableHttp",
      "--stateful",
      "--port",
      String(sgPort),
      "--logLevel",
      "none",
    ]);
    const mp = run("mcp-proxy", bin("mcp-proxy"), [
      "--host",
      "127.0.0.1",
      "--port",
      String(mpPort),
      "--server",
      "stream",
      "--",
      ...dockerRun,
    ]);
    const [command, ...args] = dockerRun;
    const targets: McpTarget[] = [
      {
        key: "floor-stdio",
        label:
          "(a) SDK stdio client on `docker run -i` of the same container (floor; one container per session)",
        berth: false,
        transport: () => new StdioClientTransport({ command: command!, args, stderr: "ignore" }),
      },
      httpTarget("supergateway", "(c) supergateway --stateful → docker run -i", url(sgPort), {
        pids: () => [sg.pid!],
      }),
      httpTarget("mcp-proxy", "(c) mcp-proxy → docker run -i", url(mpPort), {
        pids: () => [mp.pid!],
      }),
    ];
    for (const port of [sgPort, mpPort]) {
      if (!(await waitForPort(port, READY_MS))) throw new Error(`nothing listens on ${port}`);
    }
    for (const target of targets) await closeSession(await openSession(target));
    return { targets, pids: { supergateway: sg.pid, "mcp-proxy": mp.pid }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function url(port: number): string {
  return `http://127.0.0.1:${port}/mcp`;
}
