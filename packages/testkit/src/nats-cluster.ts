import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { findFreePort } from "./free-port.js";
import { startNats } from "./nats.js";
import type { NatsClusterNode, NatsUser } from "./nats-users.js";
import type { NatsHandle } from "./types.js";

/** Options of startNatsCluster. */
export interface NatsClusterOptions {
  /** Each node keeps its JetStream store in <storeDir>/<node name>. */
  storeDir: string;
  users: readonly NatsUser[];
  /** Client ports on 127.0.0.1, one per node (free ones when absent); their count is the size. */
  ports?: readonly number[];
  /** Route ports, one per node (free ones when absent). */
  clusterPorts?: readonly number[];
  /** Nodes when no ports are given (3 by default: JetStream keeps a quorum when one is lost). */
  size?: number;
  /** Each node writes its log to <logDir>/<node name>.log when set. */
  logDir?: string;
  /** The cluster's name (berth by default). */
  name?: string;
}

/** One node of the cluster, which a test may kill and start again. */
export interface NatsClusterNodeHandle {
  /** e.g. berth-nats-1 */
  name: string;
  /** nats://127.0.0.1:port of this node alone. */
  url: string;
  /** The running server's pid, or undefined while it is stopped. */
  pid(): number | undefined;
  /** kill -9. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after a bound. */
  stop(): Promise<void>;
  /** Starts it again with the same name, ports and store: it rejoins the cluster. */
  start(): Promise<void>;
}

/** A running JetStream cluster. */
export interface NatsClusterHandle {
  /** Every node's URL separated by commas: what NATS_URL takes, the client fails over. */
  url: string;
  nodes: NatsClusterNodeHandle[];
  /** Stops every node still running. */
  stop(): Promise<void>;
}

/**
 * Starts a JetStream cluster of nats-server processes on 127.0.0.1 (three by default), each with
 * Berth's users and its own store, routes between them authenticated by a password of their own.
 * Resolves once every node answers JetStream requests (the cluster has a JetStream leader).
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<NatsClusterHandle> {
  const size = options.ports?.length ?? options.size ?? 3;
  const ports = options.ports ?? (await freePorts(size));
  const clusterPorts = options.clusterPorts ?? (await freePorts(size));
  if (clusterPorts.length !== size) {
    throw new Error(
      `startNatsCluster: ${size} client ports but ${clusterPorts.length} route ports`,
    );
  }
  const clusterName = options.name ?? "berth";
  const routeLogin = { user: "route", password: randomBytes(18).toString("base64url") };
  const handles: Array<NatsHandle | undefined> = new Array(size).fill(undefined);
  const nodes = ports.map((port, index): NatsClusterNodeHandle => {
    const name = `${clusterName}-nats-${index + 1}`;
    const cluster: NatsClusterNode = {
      name: clusterName,
      serverName: name,
      port: clusterPorts[index]!,
      routes: clusterPorts.filter((_, other) => other !== index),
      ...routeLogin,
    };
    const start = async () => {
      handles[index] = await startNats({
        storeDir: join(resolve(options.storeDir), name),
        port,
        users: options.users,
        cluster,
        ...(options.logDir ? { logFile: join(options.logDir, `${name}.log`) } : {}),
      });
    };
    const end = (how: "kill" | "stop") => async () => {
      const handle = handles[index];
      handles[index] = undefined;
      await handle?.[how]();
    };
    return {
      name,
      url: `nats://127.0.0.1:${port}`,
      pid: () => handles[index]?.pid,
      kill: end("kill"),
      stop: end("stop"),
      start,
    };
  });
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    // Together: a node alone has no JetStream leader to answer its readiness probe.
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: nodes.map((node) => node.url).join(","), nodes, stop };
}

async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await findFreePort();
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}
