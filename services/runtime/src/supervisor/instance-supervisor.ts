import type { LookupFunction } from "node:net";
import { failedPrecondition, type Logger } from "@berth/platform";
import { type IdlePolicy, idlePolicyOf } from "@berth/spec";
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
  type IdleChange,
  initialLifecycle,
  type Lifecycle,
  type Observation,
} from "./lifecycle.js";
import { withSecrets } from "./prepare-start.js";
import type { RestartPolicy } from "./restart-policy.js";
import type { SecretResolver } from "./secret-resolver.js";
import type { IdleReport, StateName, StatusReport, WorkloadStore } from "./workload-store.js";

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
  /** The deployment's idle policy, for specs that name none (timeout 0: never idle). */
  idle: { timeoutMs: number; wakeTimeoutMs: number };
  /**
   * Whether this runtime owns the instance now (its lease): checked before every action on the
   * engine, so a runtime that lost the instance (paused past its lease) does not touch it.
   * Absent: a runtime that owns everything.
   */
  owns?: (instanceId: string) => boolean;
  /**
   * After owns() refused an action: reads the instance's owner again (RuntimeLease.recheck).
   * "owned": act with the fresh ownership; "wait": the lease does not hold now, retry later;
   * "lost": another runtime owns it, stop supervising it. Absent: retry later.
   */
  recheck?: (instanceId: string) => Promise<"owned" | "wait" | "lost">;
  /** Told of sleeps and wake-ups (the runtime's metrics). */
  onIdle?: (event: { type: "slept" } | { type: "woke"; seconds: number }) => void;
}

/** What the idle policy sees of an instance now. */
export interface IdleView {
  policy: IdlePolicy;
  lastRequestAt?: number;
  /** When it goes IDLE unless traffic comes; undefined when it is not serving. */
  idleAt?: number;
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
  /** MCP traffic was seen at this time (ms): the idle policy's clock moves. */
  touch(at: number): void;
  /**
   * The endpoint once the server answers: an IDLE instance is started (once, however many ask),
   * a starting one waited for. Rejects when the instance is not meant to run, or when the signal
   * aborts (the caller's deadline); the start goes on either way.
   */
  wake(signal: AbortSignal): Promise<ActiveEndpoint>;
  /** Whether the instance is IDLE or being woken: wake() answers once it is up. */
  wakeable(): boolean;
  /** The idle policy and its clock; undefined when the instance is never idled. */
  idle(): IdleView | undefined;
  /** Ends local activity (probe, bridge attachment); the workload itself is left as it is. */
  close(): Promise<void>;
}

interface Active extends ActiveEndpoint {
  attempt: number;
  handle: WorkloadHandle;
  attachment?: BridgeAttachment;
  monitor: AbortController;
}

/** An engine action refused because this runtime does not hold the instance's lease now. */
class LeaseNotHeldError extends Error {
  constructor(instanceId: string) {
    super(`this runtime does not hold the lease of instance ${instanceId} now`);
    this.name = "LeaseNotHeldError";
  }
}

/** A step of the supervisor's queue: read the row, decide about an observation, check idleness. */
type Step =
  | { type: "refresh" }
  | { type: "observe"; observation: Observation }
  | { type: "idle-check" };

interface Waiter {
  resolve(endpoint: ActiveEndpoint): void;
  reject(error: Error): void;
}

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
  // The idle policy: its settings (from the row's spec), its clock, and who waits for a wake-up.
  let policy: IdlePolicy | undefined;
  let lastRequestAt = 0;
  let clockFrom = 0;
  let publishedDeadline = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let wakeStartedAt = 0;
  const waiters = new Set<Waiter>();

  function enqueue(step: Step): void {
    if (closed) return;
    // Refreshes (and idle checks) coalesce: one waiting step sees every change before it.
    if (step.type !== "observe" && queue.some((s) => s.type === step.type)) return;
    queue.push(step);
    loop ??= drain();
  }

  const observe = (observation: Observation) => enqueue({ type: "observe", observation });
  const kick = () => enqueue({ type: "refresh" });

  async function drain(): Promise<void> {
    // Yield first: `loop` is assigned before any step runs, so the `loop = undefined` below comes
    // after it even when every step is synchronous (an idle check that finds new traffic);
    // otherwise `loop` would keep a settled promise and no later step would ever run.
    await Promise.resolve();
    while (queue.length > 0 && !closed) {
      const step = queue.shift()!;
      try {
        if (step.type === "refresh") await apply(await readRow());
        else if (step.type === "observe") await apply(step.observation);
        else if (deadline() === undefined || Date.now() < deadline()!) {
          log.debug({ idle_in_ms: (deadline() ?? Number.NaN) - Date.now() }, "not idle yet");
        } else {
          const seconds = Math.round(policy!.timeoutMs / 1000);
          await apply({ type: "idle-elapsed", reason: `no MCP traffic for ${seconds}s` });
        }
      } catch (error) {
        if (error instanceof LeaseNotHeldError) {
          // What this supervisor believed may be stale: it starts over from the row (adopting
          // the workload) once the lease holds again, as a fresh owner would.
          teardown();
          lifecycle = initialLifecycle();
          const verdict = await recheck();
          if (verdict === "lost") {
            stopSupervising();
            break;
          }
          if (verdict === "owned") {
            // Ownership was only stale (a new epoch or incarnation): go on at once.
            retryMs = 0;
            kick();
            continue;
          }
        }
        retryLater(error);
      }
      armIdleTimer();
      settleWaiters();
    }
    loop = undefined;
  }

  /** Whose the instance is now, after an action was refused for want of its lease. */
  async function recheck(): Promise<"owned" | "wait" | "lost"> {
    if (!deps.recheck) return "wait";
    try {
      return await deps.recheck(instanceId);
    } catch (error) {
      log.debug({ err: error }, "cannot read the workload's owner now");
      return "wait";
    }
  }

  /** Another runtime owns the instance: local activity ends, once, and nothing is retried. */
  function stopSupervising(): void {
    log.info("workload owned by another runtime now; no longer supervised here");
    closed = true;
    queue.length = 0;
    clearTimeout(retryTimer);
    clearTimeout(restartTimer);
    clearTimeout(idleTimer);
    for (const waiter of waiters) {
      waiter.reject(failedPrecondition(`instance ${instanceId} is served by another runtime now`));
    }
    waiters.clear();
    teardown();
    onRemoved();
  }

  const serving = () =>
    (lifecycle.state === "RUNNING" || lifecycle.state === "UNHEALTHY") &&
    active !== undefined &&
    !lifecycle.backoff;

  /** When the idle policy stops the workload unless traffic comes; undefined: it never will. */
  function deadline(): number | undefined {
    if (!policy || policy.timeoutMs <= 0 || !serving()) return undefined;
    return Math.max(lastRequestAt, clockFrom) + policy.timeoutMs;
  }

  /** A timer at the deadline; when it fires the deadline is checked again (traffic moves it). */
  function armIdleTimer(): void {
    const at = deadline();
    if (at === undefined || closed) {
      clearTimeout(idleTimer);
      idleTimer = undefined;
      return;
    }
    if (idleTimer) return;
    idleTimer = setTimeout(
      () => {
        idleTimer = undefined;
        enqueue({ type: "idle-check" });
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** Answers those waiting for a wake-up once the lifecycle says how it went. */
  function settleWaiters(): void {
    if (waiters.size === 0) return;
    const state = lifecycle.state;
    if (active && (state === "RUNNING" || state === "UNHEALTHY") && !lifecycle.backoff) {
      const endpoint = { url: active.url, headers: active.headers, generation: active.generation };
      for (const waiter of waiters) waiter.resolve(endpoint);
      waiters.clear();
    } else if (state === "IDLE") {
      if (!queue.some((s) => s.type === "observe" && s.observation.type === "wake")) {
        wakeStartedAt = Date.now();
        observe({ type: "wake" });
      }
    } else if (
      lifecycle.desired !== "running" ||
      state === "FAILED" ||
      state === "STOPPED" ||
      state === "REMOVED"
    ) {
      const error = failedPrecondition(
        `instance ${instanceId} is not meant to run now (${state.toLowerCase()})`,
      );
      for (const waiter of waiters) waiter.reject(error);
      waiters.clear();
    }
  }

  /** The clock's new position goes to the store in steps (the instance shows it), not per call. */
  function publishActivity(): void {
    const at = deadline();
    if (at === undefined || !row || !policy) return;
    const step = Math.min(30_000, Math.max(1_000, policy.timeoutMs / 10));
    if (at - publishedDeadline < step) return;
    publishedDeadline = at;
    deps.store
      .recordActivity(instanceId, row.generation, idleReport()!)
      .catch((error) => log.debug({ err: error }, "recording MCP activity failed"));
  }

  function idleReport(): IdleReport | undefined {
    if (!policy || policy.timeoutMs <= 0) return undefined;
    const at = deadline();
    return {
      timeoutSeconds: Math.round(policy.timeoutMs / 1000),
      ...(lastRequestAt > 0 ? { lastRequestAt: new Date(lastRequestAt) } : {}),
      ...(at !== undefined ? { idleAt: new Date(at) } : {}),
    };
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
    policy = policyOf(found);
    lastRequestAt = Math.max(lastRequestAt, found.lastRequestAt?.getTime() ?? 0);
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

  /** The idle policy of a row: its spec's, else the deployment's; none for drivers that cannot sleep. */
  function policyOf(of: WorkloadRow): IdlePolicy | undefined {
    const parsed = parseSpec(of.spec);
    if (!parsed.ok) return undefined;
    const driver = deps.drivers[parsed.spec.type] as WorkloadDriver<never>;
    if (!driver.sleep || parsed.spec.type !== "docker") return undefined;
    return idlePolicyOf(parsed.spec.idle, deps.idle);
  }

  /** The driver of a row; both when the spec never named one (nothing is left to chance). */
  function driversOf(of: WorkloadRow): WorkloadDriver<never>[] {
    if (of.driver === "url") return [deps.drivers.url];
    if (of.driver === "docker") return [deps.drivers.docker];
    return [deps.drivers.docker, deps.drivers.url];
  }

  async function perform(action: Action): Promise<Observation | undefined> {
    if (
      (action.type === "start" || action.type === "sleep" || action.type === "remove") &&
      deps.owns &&
      !deps.owns(instanceId)
    ) {
      // Fencing: the engine is touched only under a lease that holds. The step is retried (and
      // the supervisor released once the loss is known), never performed without the lease.
      throw new LeaseNotHeldError(instanceId);
    }
    switch (action.type) {
      case "report":
        await report(action.state, action.message, action.endpoint, action.idleChange);
        return undefined;
      case "start":
        return start(action.attempt);
      case "sleep":
        if (!row) return undefined;
        for (const driver of driversOf(row)) await driver.sleep?.(instanceId);
        deps.onIdle?.({ type: "slept" });
        log.info("workload stopped by the idle policy");
        return undefined;
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
  async function report(
    state: StatusReport["state"],
    message: string,
    endpoint: EndpointUpdate,
    idleChange?: IdleChange,
  ) {
    if (!row) return;
    const status: StatusReport = { state, message, restartCount: lifecycle.restarts };
    const idle = idleReport();
    if (idle) status.idle = idle;
    if (idleChange) {
      const wakeMillis = idleChange.idle ? undefined : Date.now() - wakeStartedAt;
      status.idleChange = { ...idleChange, ...(wakeMillis !== undefined ? { wakeMillis } : {}) };
      if (wakeMillis !== undefined) {
        deps.onIdle?.({ type: "woke", seconds: wakeMillis / 1000 });
        log.info({ wake_ms: wakeMillis }, "workload woken by an MCP request");
      }
    }
    if (state === "RUNNING" && idle?.idleAt) publishedDeadline = idle.idleAt.getTime();
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
    // The idle clock runs from the start: a fresh workload gets a whole timeout.
    clockFrom = Date.now();
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
      challengeIsHealthy:
        spec.type === "url" && (spec.delegation !== undefined || spec.tokenExchange !== undefined),
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
    touch(at) {
      if (at <= lastRequestAt) return;
      lastRequestAt = Math.min(at, Date.now());
      publishActivity();
    },
    wake(signal) {
      return new Promise<ActiveEndpoint>((resolve, reject) => {
        if (closed) return reject(failedPrecondition(`instance ${instanceId} is not supervised`));
        const waiter: Waiter = {
          resolve: (endpoint) => {
            signal.removeEventListener("abort", onAbort);
            resolve(endpoint);
          },
          reject: (error) => {
            signal.removeEventListener("abort", onAbort);
            reject(error);
          },
        };
        const onAbort = () => {
          waiters.delete(waiter);
          reject(signal.reason instanceof Error ? signal.reason : new Error("wake aborted"));
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        waiters.add(waiter);
        // A supervisor that has not read its row yet settles after that read.
        if (lifecycle.generation < 0) kick();
        else settleWaiters();
      });
    },
    wakeable: () =>
      lifecycle.state === "IDLE" || (lifecycle.waking === true && lifecycle.state === "STARTING"),
    idle() {
      if (!policy) return undefined;
      const at = deadline();
      return {
        policy,
        ...(lastRequestAt > 0 ? { lastRequestAt } : {}),
        ...(at !== undefined ? { idleAt: at } : {}),
      };
    },
    async close() {
      closed = true;
      queue.length = 0;
      clearTimeout(retryTimer);
      clearTimeout(restartTimer);
      clearTimeout(idleTimer);
      for (const waiter of waiters) waiter.reject(failedPrecondition("the runtime is stopping"));
      waiters.clear();
      await loop;
      teardown();
    },
  };
}
