import type { Logger } from "@berth/platform";
import type { BridgeAttachment, BridgeServer } from "../bridge/bridge-server.js";
import type { WorkloadRow } from "../db/workload-entity.js";
import { type Drivers, PermanentStartError, type WorkloadHandle } from "../drivers/types.js";
import { parseSpec } from "../spec/parse-spec.js";
import type { HealthSpec, RuntimeSpec } from "../spec/types.js";
import { monitorHealth } from "./health-monitor.js";
import { describeStartError, isEngineUnreachable, withSecrets } from "./prepare-start.js";
import { createRestartCounter, type RestartPolicy } from "./restart-policy.js";
import type { SecretResolver } from "./secret-resolver.js";
import type { StatusReport, WorkloadStore } from "./workload-store.js";

/** What a supervisor works with. */
export interface SupervisorDeps {
  store: WorkloadStore;
  drivers: Drivers;
  bridge: BridgeServer;
  secrets: SecretResolver;
  restart: RestartPolicy;
  logger: Logger;
}

/** Where an instance's MCP traffic goes now. */
export interface ActiveEndpoint {
  url: string;
  headers: Record<string, string>;
  generation: number;
}

/** Keeps one instance's workload at its desired state. */
export interface InstanceSupervisor {
  /** Re-reads the desired state and converges (serialized; extra kicks coalesce). */
  kick(): void;
  endpoint(): ActiveEndpoint | undefined;
  /** Ends local activity (probe, bridge attachment); the workload itself is left as it is. */
  close(): Promise<void>;
}

interface Active extends ActiveEndpoint {
  handle: WorkloadHandle;
  attachment?: BridgeAttachment;
  monitor: AbortController;
}

/** Creates the supervisor of one instance; onRemoved runs once its workload is gone for good. */
export function createInstanceSupervisor(
  instanceId: string,
  deps: SupervisorDeps,
  onRemoved: () => void,
): InstanceSupervisor {
  const log = deps.logger.child({ instance_id: instanceId });
  const restarts = createRestartCounter(deps.restart);
  let active: Active | undefined;
  let knownGeneration = -1;
  let crash: { generation: number; reason: string } | undefined;
  let backoff: { generation: number; timer: NodeJS.Timeout } | undefined;
  let restartReason: string | undefined;
  let closed = false;
  let dirty = false;
  let loop: Promise<void> | undefined;
  let retryMs = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let lock: Promise<unknown> = Promise.resolve();

  /** Runs fn after every earlier exclusive section: converge and health reports never interleave. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = lock.then(fn, fn);
    lock = run.catch(() => undefined);
    return run;
  }

  const report = (row: { generation: number }, status: StatusReport) =>
    deps.store.report(instanceId, row.generation, { restartCount: restarts.count, ...status });

  function teardown(): void {
    if (!active) return;
    active.monitor.abort();
    active.attachment?.detach("the workload is being replaced or stopped");
    active = undefined;
  }

  function cancelBackoff(): void {
    if (backoff) clearTimeout(backoff.timer);
    backoff = undefined;
  }

  /** The driver of a row; both when the spec never named one (nothing is left to chance). */
  function driversOf(row: WorkloadRow) {
    if (row.driver === "url") return [deps.drivers.url];
    if (row.driver === "docker") return [deps.drivers.docker];
    return [deps.drivers.docker, deps.drivers.url];
  }

  async function removeWorkload(row: WorkloadRow): Promise<void> {
    teardown();
    cancelBackoff();
    crash = undefined;
    for (const driver of driversOf(row)) await driver.remove(instanceId);
  }

  async function workloadPresent(row: WorkloadRow): Promise<boolean> {
    if (active) return true;
    for (const driver of driversOf(row)) {
      if ((await driver.inspect(instanceId)).length > 0) return true;
    }
    return false;
  }

  async function fail(row: WorkloadRow, message: string): Promise<void> {
    log.warn({ generation: row.generation, reason: message }, "workload failed");
    teardown();
    cancelBackoff();
    for (const driver of driversOf(row)) await driver.remove(instanceId).catch(() => undefined);
    await report(row, { state: "FAILED", message, endpoint: "", containerId: "" });
  }

  async function onCrash(row: WorkloadRow, reason: string): Promise<void> {
    teardown();
    const delay = restarts.next(Date.now());
    if (delay === undefined) {
      return fail(row, `gave up after ${deps.restart.maxAttempts} restarts; last: ${reason}`);
    }
    const attempt = `restart ${restarts.count} of ${deps.restart.maxAttempts}`;
    log.warn({ generation: row.generation, reason, delay_ms: delay }, "workload crashed");
    await report(row, {
      state: "UNHEALTHY",
      message: `${reason}; ${attempt} in ${Math.round(delay / 100) / 10}s`,
    });
    cancelBackoff();
    backoff = {
      generation: row.generation,
      timer: setTimeout(() => {
        backoff = undefined;
        restartReason = reason;
        kick();
      }, delay),
    };
  }

  async function start(row: WorkloadRow): Promise<void> {
    const reason = restartReason;
    restartReason = undefined;
    teardown();
    const parsed = parseSpec(row.spec);
    if (!parsed.ok) return fail(row, parsed.message);
    if (reason || (row.state !== "RUNNING" && row.state !== "UNHEALTHY")) {
      const message = reason
        ? `restarting after: ${reason}`
        : `starting generation ${row.generation}`;
      await report(row, { state: "STARTING", message, endpoint: "" });
    }
    let spec: RuntimeSpec;
    try {
      const resolved = await withSecrets(parsed.spec, instanceId, row.generation, deps.secrets);
      if (!resolved.ok) return fail(row, resolved.message);
      spec = resolved.spec;
    } catch (error) {
      const message = "waiting for the instances service to resolve secrets";
      await report(row, { state: "STARTING", message });
      throw error; // retried with backoff by the loop
    }
    let handle: WorkloadHandle;
    try {
      const driver = deps.drivers[spec.type] as Drivers[keyof Drivers];
      handle = await driver.ensure({ instanceId, generation: row.generation, spec } as never);
    } catch (error) {
      if (error instanceof PermanentStartError) return fail(row, error.message);
      if (isEngineUnreachable(error)) {
        // Not the workload's fault: wait for the engine without using up restarts.
        await report(row, {
          state: "STARTING",
          message: "waiting for the Docker engine to answer",
        });
        throw error;
      }
      return onCrash(row, `start failed: ${describeStartError(error)}`);
    }
    const attachment = handle.stdio ? deps.bridge.attach(instanceId, handle.stdio) : undefined;
    const current: Active = {
      handle,
      attachment,
      generation: row.generation,
      url: attachment ? deps.bridge.url(instanceId) : handle.endpoint,
      headers: attachment ? deps.bridge.headers() : handle.headers,
      monitor: new AbortController(),
    };
    active = current;
    log.info(
      { generation: row.generation, driver: handle.driver, adopted: handle.adopted },
      "workload started",
    );
    void handle.exited.then((why) => {
      if (active !== current || closed) return;
      crash = { generation: current.generation, reason: why };
      kick();
    });
    void monitor(current, spec.health, row);
  }

  function monitor(current: Active, health: HealthSpec, row: WorkloadRow): Promise<void> {
    return monitorHealth({
      url: current.url,
      headers: current.headers,
      health,
      signal: current.monitor.signal,
      restartable: current.handle.restartable,
      report: (status) =>
        exclusive(async () => {
          if (current.monitor.signal.aborted) return;
          await report(row, {
            ...status,
            endpoint: current.url,
            containerId: current.handle.containerId ?? "",
          });
        }),
      saveTools: (tools) => deps.store.saveTools(instanceId, row.generation, tools),
      unhealthy: (reason) => {
        if (active !== current) return;
        crash = { generation: current.generation, reason };
        kick();
      },
    });
  }

  async function converge(): Promise<void> {
    const row = await deps.store.get(instanceId);
    if (!row || row.state === "REMOVED") {
      teardown();
      cancelBackoff();
      if (row) {
        closed = true;
        onRemoved();
      }
      return;
    }
    if (row.generation !== knownGeneration) {
      knownGeneration = row.generation;
      restarts.reset(row.restartCount);
    }
    if (row.desired === "deleted") {
      await removeWorkload(row);
      await report(row, {
        state: "REMOVED",
        message: "workload removed",
        endpoint: "",
        containerId: "",
      });
      closed = true;
      onRemoved();
      return;
    }
    if (row.desired === "stopped") {
      if (await workloadPresent(row)) {
        await report(row, { state: "STOPPING", message: "stopping" });
        await removeWorkload(row);
      }
      await report(row, { state: "STOPPED", message: "stopped", endpoint: "", containerId: "" });
      return;
    }
    if (crash) {
      const happened = crash;
      crash = undefined;
      if (happened.generation === row.generation) return onCrash(row, happened.reason);
    }
    if (backoff && backoff.generation === row.generation) return; // a restart is scheduled
    cancelBackoff();
    if (active && active.generation === row.generation && !restartReason) return;
    if (!restartReason && row.state === "FAILED" && row.failedRevision === row.revision) return;
    await start(row);
  }

  async function run(): Promise<void> {
    while (dirty && !closed) {
      dirty = false;
      try {
        await exclusive(converge);
        retryMs = 0;
      } catch (error) {
        const first = retryMs === 0;
        retryMs = Math.min(deps.restart.maxMs, Math.max(deps.restart.baseMs, retryMs * 2));
        // The first failure of a series is a warning; its repeats would only flood the log.
        log[first ? "warn" : "debug"](
          { err: error, retry_in_ms: retryMs },
          "converging the workload failed; will retry",
        );
        clearTimeout(retryTimer);
        retryTimer = setTimeout(kick, retryMs);
      }
    }
    loop = undefined;
  }

  function kick(): void {
    if (closed) return;
    dirty = true;
    loop ??= run();
  }

  return {
    kick,
    endpoint: () =>
      active
        ? { url: active.url, headers: active.headers, generation: active.generation }
        : undefined,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      cancelBackoff();
      await loop;
      teardown();
    },
  };
}
