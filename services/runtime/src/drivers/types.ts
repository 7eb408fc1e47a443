import type { Readable, Writable } from "node:stream";
import type { DockerSpec, RuntimeSpec, UrlSpec } from "../spec/types.js";

/** The names of the drivers: url, and the container engines behind the docker json_spec type. */
export type DriverName = "docker" | "url" | "swarm" | "kubernetes";

/** What a driver is asked to make real: one instance at one generation, secrets resolved. */
export interface WorkloadRequest<S extends RuntimeSpec = RuntimeSpec> {
  instanceId: string;
  generation: number;
  /** The instance's name, which placement rules may match (engine-placement.ts). */
  name?: string;
  /** The spec with secret values in place: kept in memory only. */
  spec: S;
  /**
   * Environment variables whose values are secrets, kept out of spec.environment: a driver
   * delivers them through a channel that leaves no copy in the engine's configuration.
   */
  secretEnv?: Record<string, string>;
}

/** The stdin/stdout of a stdio MCP server, for the bridge. */
export interface StdioChannel {
  stdin: Writable;
  stdout: Readable;
  /** Closes the attachment (not the workload). */
  close(): void;
}

/** A workload a driver made real (or adopted): where MCP traffic goes, and how it ends. */
export interface WorkloadHandle {
  instanceId: string;
  generation: number;
  driver: DriverName;
  /** Streamable HTTP URL on loopback or the remote URL; empty for stdio (the bridge serves it). */
  endpoint: string;
  /** Headers for the endpoint (credentials of a url instance); never logged. */
  headers: Record<string, string>;
  containerId?: string;
  stdio?: StdioChannel;
  /** Whether an existing workload of this generation was taken over rather than created. */
  adopted: boolean;
  /** Resolves with a reason once the workload ended by itself (never for url workloads). */
  exited: Promise<string>;
  /** Whether a crashed or unhealthy workload can be restarted by replacing it. */
  restartable: boolean;
}

/** A workload seen on the engine (by its labels). */
export interface ObservedWorkload {
  instanceId: string;
  generation: number;
  containerId: string;
  running: boolean;
}

/** One log line of a workload. */
export interface LogLine {
  line: string;
  stream: "stdout" | "stderr";
  time?: Date;
}

/** Options of WorkloadDriver.logs. */
export interface LogOptions {
  follow: boolean;
  tailLines: number;
  signal: AbortSignal;
}

export {
  EngineUnavailableError,
  isEngineUnavailable,
  PermanentStartError,
  WorkloadStartError,
} from "./errors.js";

/** The port every driver implements (docker, url; kubernetes later). */
export interface WorkloadDriver<S extends RuntimeSpec = RuntimeSpec> {
  readonly name: DriverName;
  /**
   * Makes the instance run at this generation: adopts a healthy workload of the same generation
   * when possible, otherwise replaces whatever exists. Safe to repeat.
   */
  ensure(request: WorkloadRequest<S>): Promise<WorkloadHandle>;
  /** Removes the instance's workload and everything created for it; safe to repeat. */
  remove(instanceId: string): Promise<void>;
  /**
   * Stops the instance's workload for the idle policy, keeping what makes the next ensure fast
   * (images, networks); nothing of the workload may keep running or hold resources. Safe to
   * repeat. Drivers that cannot stop and start again leave it out: their instances never idle.
   */
  sleep?(instanceId: string): Promise<void>;
  /** The instance's workloads on the engine (normally zero or one). */
  inspect(instanceId: string): Promise<ObservedWorkload[]>;
  /** Every workload of this runtime's scope on the engine. */
  list(): Promise<ObservedWorkload[]>;
  /** Removes engine objects of instances not in keep (networks and the like); returns count. */
  collectGarbage(keep: ReadonlySet<string>): Promise<number>;
  /** The workload's log lines. */
  logs(instanceId: string, options: LogOptions): AsyncIterable<LogLine>;
}

/** The drivers by name. */
export interface Drivers {
  docker: WorkloadDriver<DockerSpec>;
  url: WorkloadDriver<UrlSpec>;
}
