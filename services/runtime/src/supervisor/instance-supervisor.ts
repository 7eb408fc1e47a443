import type { LookupFunction } from "node:net";
import type { Logger } from "@berth/platform";
import type { BridgeAttachment, BridgeServer } from "../bridge/bridge-server.js";
import type { WorkloadRow } from "../db/workload-entity.js";
import {
  describeDriverError,
  isEngineUnavailable,
  isPermanentStartError,
} from "../drivers/errors.js";
import type { Drivers, WorkloadDriver, WorkloadHandle } from "../drivers/types.js";
import { parseSpec } from "../spec/parse-spec.js";
import { monitorHealth } from "./health-monitor.js";
import {
  type Action,
  decide,
  type EndpointUpdate,
  initialLifecycle,
  type Lifecycle,
  type Observation,
} from "./lifecycle.js";
import { withSecrets } from "./prepare-start.js";
import type { RestartPolicy } from "./restart-policy.js";
import type { SecretResolver } from "./secret-resolver.js";
import type { StateName, StatusReport, WorkloadStore } from "./workload-store.js";

/** What a supervisor works with. */
export interface SupervisorDeps {
  store: WorkloadStore;
  drivers: Drivers;
  bridge: BridgeServer;
  secrets: SecretResolver;
  restart: RestartPolicy;
  logger: Logger;
  /** Resolves url-instance host names for the health probe (createGuardedLookup). */
  lookup?: LookupFunction;
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
  attempt: number;
  handle: WorkloadHandle;
  attachment?: BridgeAttachment;
  monitor: AbortController;
}

/** A step of the supervisor's queue: read the row, or decide about an observation. */
type Step = { type: "refresh" } | { type: "observe"; observation: Observation };

/**
 * Creates the supervisor of one instance: the executor of the lifecycle state machine
 * (lifecycle.ts). Steps run one at a time; each decision's actions run in order. A failed
 * report is logged and retried by reading the row again later; it never ends the supervisor.
 * onRemoved runs once the workload is gone for good.
 */
export function createInstanceSupervisor(
  instanceId: string,
  deps: SupervisorDeps,
  onRemoved: () => void,
): InstanceSupervisor {
  const log = deps.logger.child({ instance_id: instanceId });
  let lifecycle: Lifecycle = initialLifecycle();
  let row: WorkloadRow | undefined;
  let active: Active | undefined;
  let closed = false;
  const queue: Step[] = [];
  let loop: Promise<void> | undefined;
  let retryMs = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let restartTimer: NodeJS.Timeout | undefined;

  function enqueue(step: Step): void {
    if (closed) return;
    // Refreshes coalesce: one waiting read of the row sees every change before it.
    if (step.type === "refresh" && queue.some((s) => s.type === "refresh")) return;
    queue.push(step);
    loop ??= drain();
  }

  const observe = (observation: Observation) => enqueue({ type: "observe", observation });
  const kick = () => enqueue({ type: "refresh" });

  async function drain(): Promise<void> {
    while (queue.length > 0 && !closed) {
      const step = queue.shift()!;
      try {
        if (step.type === "refresh") await apply(await readRow());
        else await apply(step.observation);
      } catch (error) {
        retryLater(error);
      }
    }
    loop = undefined;
  }

  /** Reads the row again after a growing delay: a dependency (store, engine) is away. */
  function retryLater(error?: unknown): void {
    const first = retryMs === 0;
    retryMs = Math.min(deps.restart.maxMs, Math.max(deps.restart.baseMs, retryMs * 2));
    if (error !== undefined) {
      // The first failure of a series is a warning; its repeats would only flood the log.
      log[first ? "warn" : "debug"](
        { err: error, retry_in_ms: retryMs },
        "converging the workload failed; will retry",
      );
    }
    clearTimeout(retryTimer);
    retryTimer = setTimeout(kick, retryMs);
  }

  async function readRow(): Promise<Observation> {
    const found = await deps.store.get(instanceId);
    if (!found || found.state === "REMOVED") return { type: "gone" };
    row = found;
    retryMs = 0;
    const present =
      found.desired === "stopped" && !active
        ? (await Promise.all(driversOf(found).map((d) => d.inspect(instanceId)))).some(
            (list) => list.length > 0,
          )
        : false;
    return {
      type: "desired",
      desired: found.desired,
      generation: found.generation,
      revision: found.revision,
      failedRevision: found.failedRevision,
      state: found.state as StateName,
      restartCount: found.restartCount,
      present,
      now: Date.now(),
    };
  }

  async function apply(observation: Observation): Promise<void> {
    const { next, actions } = decide(lifecycle, observation, deps.restart);
    lifecycle = next;
    for (const action of actions) {
      const followUp = await perform(action);
      if (followUp) await apply(followUp);
    }
  }

  /** The driver of a row; both when the spec never named one (nothing is left to chance). */
  function driversOf(of: WorkloadRow): WorkloadDriver<never>[] {
    if (of.driver === "url") return [deps.drivers.url];
    if (of.driver === "docker") return [deps.drivers.docker];
    return [deps.drivers.docker, deps.drivers.url];
  }

  async function perform(action: Action): Promise<Observation | undefined> {
    switch (action.type) {
      case "report":
        await report(action.state, action.message, action.endpoint);
        return undefined;
      case "start":
        return start(action.attempt);
      case "teardown":
        teardown();
        return undefined;
      case "remove":
        if (!row) return undefined;
        for (const driver of driversOf(row)) {
          try {
            await driver.remove(instanceId);
          } catch (error) {
            if (!action.bestEffort) throw error;
          }
        }
        return undefined;
      case "schedule-restart":
        restartTimer = setTimeout(() => observe({ type: "backoff-elapsed" }), action.delayMs);
        return undefined;
      case "cancel-restart":
        clearTimeout(restartTimer);
        restartTimer = undefined;
        return undefined;
      case "retry-later":
        retryLater();
        return undefined;
      case "refresh":
        kick();
        return undefined;
      case "forget":
        closed = true;
        clearTimeout(retryTimer);
        onRemoved();
        return undefined;
    }
  }

  /** Records a state; a store failure is logged and retried by a later read of the row. */
  async function report(state: StatusReport["state"], message: string, endpoint: EndpointUpdate) {
    if (!row) return;
    const status: StatusReport = { state, message, restartCount: lifecycle.restarts };
    if (endpoint === "clear-endpoint") status.endpoint = "";
    if (endpoint === "clear") Object.assign(status, { endpoint: "", containerId: "" });
    if (endpoint === "active" && active) {
      Object.assign(status, { endpoint: active.url, containerId: active.handle.containerId ?? "" });
    }
    try {
      await deps.store.report(instanceId, row.generation, status);
    } catch (error) {
      log.warn({ err: error, state }, "recording the workload's state failed; will retry");
      retryLater();
    }
  }

  function teardown(): void {
    if (!active) return;
    active.monitor.abort();
    active.attachment?.detach("the workload is being replaced or stopped");
    active = undefined;
  }

  async function start(attempt: number): Promise<Observation> {
    if (!row) return { type: "spec-invalid", message: "the workload has no row" };
    const parsed = parseSpec(row.spec);
    if (!parsed.ok) return { type: "spec-invalid", message: parsed.message };
    let resolved: Awaited<ReturnType<typeof withSecrets>>;
    try {
      resolved = await withSecrets(parsed.spec, instanceId, row.generation, deps.secrets);
    } catch (error) {
      log.debug({ err: error }, "the instances service cannot resolve secrets now");
      return { type: "secrets-unavailable" };
    }
    if (!resolved.ok) return { type: "secrets-refused", message: resolved.message };
    const spec = resolved.spec;
    let handle: WorkloadHandle;
    try {
      const driver = deps.drivers[spec.type] as WorkloadDriver<never>;
      handle = await driver.ensure({
        instanceId,
        generation: row.generation,
        name: row.name,
        spec,
        secretEnv: resolved.secretEnv,
      } as never);
    } catch (error) {
      if (isEngineUnavailable(error)) return { type: "engine-unavailable" };
      const reason = describeDriverError(error);
      return {
        type: "start-failed",
        attempt,
        reason,
        permanent: isPermanentStartError(error),
        now: Date.now(),
      };
    }
    const attachment = handle.stdio ? deps.bridge.attach(instanceId, handle.stdio) : undefined;
    const current: Active = {
      attempt,
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
    void handle.exited.then((reason) => {
      if (active === current) observe({ type: "crashed", attempt, reason, now: Date.now() });
    });
    void monitorHealth({
      url: current.url,
      headers: current.headers,
      lookup: deps.lookup,
      health: spec.health,
      signal: current.monitor.signal,
      restartable: handle.restartable,
      report: (status) =>
        observe(
          status.state === "RUNNING"
            ? { type: "health-ok", attempt, message: status.message }
            : { type: "health-failed", attempt, message: status.message },
        ),
      saveTools: (tools) => deps.store.saveTools(instanceId, current.generation, tools),
      unhealthy: (reason) => observe({ type: "crashed", attempt, reason, now: Date.now() }),
      logger: log,
    }).catch((error) => log.warn({ err: error }, "the health monitor ended unexpectedly"));
    return { type: "start-succeeded", attempt };
  }

  return {
    kick,
    endpoint: () =>
      active
        ? { url: active.url, headers: active.headers, generation: active.generation }
        : undefined,
    async close() {
      closed = true;
      queue.length = 0;
      clearTimeout(retryTimer);
      clearTimeout(restartTimer);
      await loop;
      teardown();
    },
  };
}
