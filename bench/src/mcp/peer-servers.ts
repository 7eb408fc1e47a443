import { join } from "node:path";
import { findFreePort, waitForPort } from "@berth/testkit/engines";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { spawnTracked, type Tracked } from "../support/processes.js";
import { closeSession, httpTarget, type McpTarget, openSession } from "./mcp-load.js";

/** The reference server and the npm peer bridges, each as its own process on 127.0.0.1. */
export interface PeerServers {
  targets: McpTarget[];
  /** Process ids of the bridges, for the memory figures. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

const READY_MS = 30_000;

/**
 * Starts (a) server-everything in its own Streamable HTTP mode (the floor; it listens on every
 * interface, the bench connects to 127.0.0.1 only), (c) supergateway (stateful Streamable HTTP,
 * its only mode with sessions: one stdio child per session) and mcp-proxy (one shared stdio
 * child) around the same server's stdio mode, and a stdio reference with no HTTP at all.
 */
export async function startPeerServers(root: string, logDir: string): Promise<PeerServers> {
  const everything = join(root, "node_modules", ".bin", "mcp-server-everything");
  const bin = (name: string) => join(root, "bench", "node_modules", ".bin", name);
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" };
  const started: Tracked[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    const [floorPort, sgPort, mpPort] = [
      await findFreePort(),
      await findFreePort(),
      await findFreePort(),
    ];
    const run = (name: string, command: string, args: string[], extra = {}) => {
      const tracked = spawnTracked(name, command, args, {
        cwd: root,
        env: { ...env, ...extra },
        logFile: join(logDir, `${name}.log`),
      });
      started.push(tracked);
      return tracked;
    };
    const floor = run("everything-http", everything, ["streamableHttp"], {
      PORT: String(floorPort),
    });
    const sg = run("supergateway", bin("supergateway"), [
      "--stdio",
      `${everything} stdio`,
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
      everything,
      "stdio",
    ]);
    const targets: McpTarget[] = [
      httpTarget("floor", "(a) server-everything, own Streamable HTTP (floor)", url(floorPort)),
      {
        key: "stdio",
        label: "server-everything over stdio, no HTTP (reference; one process per session)",
        berth: false,
        transport: () =>
          new StdioClientTransport({ command: everything, args: ["stdio"], stderr: "ignore" }),
      },
      httpTarget("supergateway", "(c) supergateway --stateful → stdio", url(sgPort)),
      httpTarget("mcp-proxy", "(c) mcp-proxy → stdio", url(mpPort)),
    ];
    for (const port of [floorPort, sgPort, mpPort]) {
      if (!(await waitForPort(port, READY_MS))) throw new Error(`nothing listens on ${port}`);
    }
    for (const target of targets) await closeSession(await openSession(target));
    return {
      targets,
      pids: { floor: floor.pid, supergateway: sg.pid, "mcp-proxy": mp.pid },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function url(port: number): string {
  return `http://127.0.0.1:${port}/mcp`;
}
