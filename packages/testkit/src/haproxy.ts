import { writeFile } from "node:fs/promises";
import { findHaproxy } from "./engine-binaries.js";
import { EngineStartError } from "./errors.js";
import { isPortListening, waitForPort } from "./free-port.js";
import { lastLines, spawnEngine } from "./run-command.js";
import { hasExited, stopProcess } from "./stop-process.js";

const READY_TIMEOUT_MS = 20_000;

/** One replica behind a load-balanced port. */
export interface BalancedServer {
  name: string;
  /** host:port (127.0.0.1:8081). */
  address: string;
}

/** A port the load balancer listens on and the replicas it spreads connections over. */
export interface BalancedPort {
  /** A name for the frontend and its backend (letters, digits, dashes). */
  name: string;
  /** Where clients connect: host:port (127.0.0.1:8080). */
  bind: string;
  servers: readonly BalancedServer[];
  /**
   * An HTTP path answered 200 only by a replica ready to serve (the gateways' /readyz). Without
   * one, a replica is in service while it accepts TCP connections (the internal gRPC services,
   * whose mutual TLS a plain health check cannot speak).
   */
  readiness?: string;
}

/**
 * Berth's HAProxy configuration: every port in TCP mode, so the bytes pass through untouched —
 * HTTP/1.1, h2c (gRPC, Connect) and the mesh's mutual TLS alike, and SSE / Watch / MCP streams
 * are never cut by an HTTP timeout (the idle timeouts are an hour). A connection to a replica
 * that refuses it (killed) is retried on another; health checks every second take a dead or
 * unready replica out. When no replica passes its readiness check, all of them still get
 * connections (as backups), so clients hear the gateways' own 503 with Retry-After rather than a
 * closed connection.
 */
export function haproxyConfig(ports: readonly BalancedPort[]): string {
  const lines = [
    "# Written by Berth (haproxyConfig in packages/testkit/src/haproxy.ts); see deploy/haproxy/README.md.",
    "global",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  timeout connect 2s",
    // Long-lived streams (Watch, SSE, MCP sessions) idle far longer than a request.
    "  timeout client 1h",
    "  timeout server 1h",
    "  timeout check 2s",
    "  retries 3",
    // Every retry after a refused connection goes to another replica.
    "  option redispatch 1",
    "  default-server inter 1s fastinter 500ms downinter 1s rise 2 fall 2",
  ];
  for (const port of ports) {
    lines.push(
      "",
      `frontend ${port.name}`,
      `  bind ${port.bind}`,
      `  default_backend ${port.name}`,
      "",
      `backend ${port.name}`,
      // Streams are long: the replica with the fewest open connections gets the next one.
      "  balance leastconn",
    );
    if (port.readiness) {
      lines.push(
        `  option httpchk GET ${port.readiness}`,
        "  http-check expect status 200",
        "  option allbackups",
      );
    }
    for (const server of port.servers)
      lines.push(`  server ${server.name} ${server.address} check`);
    if (port.readiness) {
      for (const server of port.servers) {
        // Unchecked (a check would fail like the primary's): a dead one refuses, and the
        // connection is redispatched to another.
        lines.push(`  server ${server.name}-unready ${server.address} backup`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A running HAProxy. */
export interface HaproxyHandle {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Writes the configuration to configFile and starts haproxy in the foreground (its own process
 * group); resolves once every bound port listens.
 */
export async function startHaproxy(options: {
  configFile: string;
  ports: readonly BalancedPort[];
}): Promise<HaproxyHandle> {
  const binary = findHaproxy();
  for (const port of options.ports) {
    const number = Number(port.bind.split(":").at(-1));
    if (await isPortListening(number)) {
      throw new EngineStartError(`haproxy cannot start: port ${number} is already in use`);
    }
  }
  await writeFile(options.configFile, haproxyConfig(options.ports));
  const { child, output } = spawnEngine(binary, ["-db", "-f", options.configFile]);
  for (const port of options.ports) {
    const number = Number(port.bind.split(":").at(-1));
    const listening = await waitForPort(number, READY_TIMEOUT_MS);
    if (!listening || hasExited(child)) {
      await stopProcess(child);
      throw new EngineStartError(`haproxy did not listen on ${port.bind}`, {
        output: lastLines(output()),
      });
    }
  }
  return { pid: child.pid ?? 0, stop: () => stopProcess(child) };
}
