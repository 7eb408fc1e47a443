import { fileURLToPath } from "node:url";
import { COMPILED_CONDITION, SERVICE_V8_FLAGS } from "../../../scripts/start/build.js";
import { spawnTracked, type Tracked } from "../support/processes.js";
import type { ChildMessage, ChildRequest } from "./protocol.js";

/** A Berth service running as its own process under the bench. */
export interface ServiceProcess {
  name: string;
  pid: number;
  port: number;
  bridgePort?: number;
  /** Asks the process something over IPC (bounded by timeoutMs). */
  request<T>(op: DistributiveOmit<ChildRequest, "id">, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const START_TIMEOUT_MS = 60_000;
const CHILD = fileURLToPath(new URL("service-child.ts", import.meta.url));

/**
 * Starts services/<name> through the bench's service-child entry, its output appended to logFile;
 * resolves once it listens. The service runs compiled, as npm start runs it: the child's
 * `@berth/*` imports resolve to dist/ (bench/run.sh builds first); only the small child entry
 * itself goes through tsx.
 */
export async function startServiceProcess(
  name: string,
  env: Record<string, string>,
  options: { cwd: string; logFile: string; nodeArgs?: string[] },
): Promise<ServiceProcess> {
  const tracked: Tracked = spawnTracked(
    name,
    process.execPath,
    [
      "--expose-gc",
      ...SERVICE_V8_FLAGS,
      COMPILED_CONDITION,
      "--import",
      "tsx",
      ...(options.nodeArgs ?? []),
      CHILD,
      name,
    ],
    {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
      logFile: options.logFile,
      ipc: true,
    },
  );
  const child = tracked.child;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  const ready = new Promise<ChildMessage & { type: "ready" }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    child.on("message", (message: ChildMessage) => {
      if (message.type === "ready") {
        clearTimeout(timer);
        resolve(message);
        return;
      }
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) waiter?.resolve(message.value);
      else waiter?.reject(new Error(`${name}: ${message.error}`));
    });
    void tracked.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (see ${options.logFile})`));
      for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited`));
    });
  });
  let started: ChildMessage & { type: "ready" };
  try {
    started = await ready;
  } catch (error) {
    await tracked.stop();
    throw error;
  }
  return {
    name,
    pid: tracked.pid,
    port: started.port,
    bridgePort: started.bridgePort,
    request<T>(op: DistributiveOmit<ChildRequest, "id">, timeoutMs = 60_000) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name} did not answer ${op.op} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ ...op, id });
      });
    },
    stop: () => tracked.stop(),
  };
}
