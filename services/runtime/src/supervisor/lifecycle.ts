import type { DesiredWorkload } from "../db/workload-entity.js";
import type { RestartPolicy } from "./restart-policy.js";
import { backoffDelay } from "./restart-policy.js";
import type { StateName } from "./workload-store.js";

/**
 * The workload lifecycle as a pure state machine: `decide(current, observation)` returns the
 * next lifecycle and the actions that make it real; an executor (instance-supervisor.ts) performs
 * the actions and feeds back what it observes. States, as DESIGN.md names them:
 * PENDING → STARTING → RUNNING ⇄ UNHEALTHY → STOPPING → STOPPED, FAILED with a reason, and
 * DELETING until the workload is gone (then REMOVED, the runtime's confirmation).
 * The idle policy adds RUNNING/UNHEALTHY → IDLE (the workload is put to sleep while the desired
 * state stays running) and IDLE → STARTING → RUNNING when an MCP request wakes it.
 */
export type Phase = StateName | "DELETING";

/** What the supervisor knows of one instance's workload. */
export interface Lifecycle {
  /** The state last reported (or read from the store). */
  state: Phase;
  desired: DesiredWorkload;
  generation: number;
  /** The instance revision the store holds; FAILED sticks until a newer one. */
  revision: number;
  failedRevision: number;
  /** The workload the runtime holds now (its attempt number and generation), if any. */
  workload?: { attempt: number; generation: number };
  /** The last attempt number handed out; each start gets the next. */
  attempts: number;
  /** Restarts used in the current series, and when the last one was counted. */
  restarts: number;
  lastRestartAt: number;
  /** A restart is scheduled; its reason is carried into the next start. */
  backoff: boolean;
  restartReason?: string;
  /** The current start is a wake-up from IDLE (announced once the server answers). */
  waking?: boolean;
}

/** What the executor saw. */
export type Observation =
  /** The store's row was read (desired state changed, a kick, a reconcile pass, a retry). */
  | {
      type: "desired";
      desired: DesiredWorkload;
      generation: number;
      revision: number;
      failedRevision: number;
      state: StateName;
      restartCount: number;
      /** Whether a workload exists on the engine (asked only when stopping). */
      present: boolean;
      now: number;
    }
  /** The row is gone or a tombstone: nothing left to supervise. */
  | { type: "gone" }
  | { type: "spec-invalid"; message: string }
  /** The instances service refused to resolve secrets for good (or a reference is broken). */
  | { type: "secrets-refused"; message: string }
  /** The instances service is unreachable: wait without using up restarts. */
  | { type: "secrets-unavailable" }
  | { type: "engine-unavailable" }
  | { type: "start-succeeded"; attempt: number }
  | { type: "start-failed"; attempt: number; reason: string; permanent: boolean; now: number }
  | { type: "crashed"; attempt: number; reason: string; now: number }
  | { type: "health-ok"; attempt: number; message: string }
  | { type: "health-failed"; attempt: number; message: string }
  | { type: "backoff-elapsed" }
  /** The idle policy's deadline passed with no MCP traffic and no open stream. */
  | { type: "idle-elapsed"; reason: string }
  /** An MCP request asks for the instance: an IDLE one starts. */
  | { type: "wake" };

/** How a report treats the endpoint and container id. */
export type EndpointUpdate = "keep" | "clear-endpoint" | "clear" | "active";

/** A report that is also a sleep or a wake-up of the idle policy (announced to the audit trail). */
export interface IdleChange {
  idle: boolean;
  reason: string;
}

/** What the executor does, in order. */
export type Action =
  | {
      type: "report";
      state: StateName;
      message: string;
      endpoint: EndpointUpdate;
      idleChange?: IdleChange;
    }
  /** Resolve secrets and make the workload real as this attempt; feeds back an observation. */
  | { type: "start"; attempt: number }
  /** End local activity (probe, bridge attachment); the workload itself stays. */
  | { type: "teardown" }
  /** Remove the workload from the engine; best effort when failing (the report must follow). */
  | { type: "remove"; bestEffort?: boolean }
  /** Stop the workload for idleness, keeping what makes the next start fast (image, network). */
  | { type: "sleep" }
  | { type: "schedule-restart"; delayMs: number }
  | { type: "cancel-restart" }
  /** Read the row again after a backoff (a dependency is away). */
  | { type: "retry-later" }
  /** Read the row again now. */
  | { type: "refresh" }
  /** The workload is gone for good: the supervisor ends. */
  | { type: "forget" };

/** The outcome of one decision. */
export interface Decision {
  next: Lifecycle;
  actions: Action[];
}

/** A lifecycle about which nothing is known yet. */
export function initialLifecycle(): Lifecycle {
  return {
    state: "PENDING",
    desired: "running",
    generation: -1,
    revision: 0,
    failedRevision: -1,
    attempts: 0,
    restarts: 0,
    lastRestartAt: 0,
    backoff: false,
  };
}

const report = (
  state: StateName,
  message: string,
  endpoint: EndpointUpdate = "keep",
  idleChange?: IdleChange,
): Action => ({
  type: "report",
  state,
  message,
  endpoint,
  ...(idleChange ? { idleChange } : {}),
});

/** The message of an instance woken by an MCP request. */
export const WAKE_MESSAGE = "woken by an MCP request";

/** Decides what to do about one observation. Pure: same inputs, same decision. */
export function decide(
  current: Lifecycle,
  observation: Observation,
  policy: RestartPolicy,
): Decision {
  const stale = (attempt: number) => current.workload?.attempt !== attempt;
  switch (observation.type) {
    case "gone":
      return {
        next: { ...current, state: "REMOVED", workload: undefined, backoff: false },
        actions: [{ type: "cancel-restart" }, { type: "teardown" }, { type: "forget" }],
      };
    case "desired":
      return onDesired(current, observation);
    case "spec-invalid":
    case "secrets-refused":
      return fail(current, observation.message);
    case "secrets-unavailable":
      return {
        next: { ...current, state: "STARTING" },
        actions: [
          report("STARTING", "waiting for the instances service to resolve secrets"),
          { type: "retry-later" },
        ],
      };
    case "engine-unavailable":
      // Not the workload's fault: wait for the engine without using up restarts.
      return {
        next: { ...current, state: "STARTING", workload: undefined },
        actions: [
          report("STARTING", "waiting for the Docker engine to answer"),
          { type: "retry-later" },
        ],
      };
    case "start-succeeded":
      return {
        next: {
          ...current,
          workload: { attempt: observation.attempt, generation: current.generation },
        },
        actions: [],
      };
    case "start-failed":
      if (observation.permanent) return fail(current, observation.reason);
      return crash(current, `start failed: ${observation.reason}`, observation.now, policy);
    case "crashed":
      if (stale(observation.attempt)) return { next: current, actions: [] };
      return crash(current, observation.reason, observation.now, policy);
    case "health-ok": {
      if (stale(observation.attempt)) return { next: current, actions: [] };
      const woke = current.waking ? { idle: false, reason: WAKE_MESSAGE } : undefined;
      return {
        next: { ...current, state: "RUNNING", waking: false },
        actions: [report("RUNNING", observation.message, "active", woke)],
      };
    }
    case "idle-elapsed": {
      const serving = current.state === "RUNNING" || current.state === "UNHEALTHY";
      if (!serving || !current.workload || current.backoff || current.desired !== "running")
        return { next: current, actions: [] };
      const message = `idle: ${observation.reason}; the next MCP request starts it`;
      return {
        next: { ...current, state: "IDLE", workload: undefined, waking: false },
        actions: [
          { type: "cancel-restart" },
          { type: "teardown" },
          { type: "sleep" },
          report("IDLE", message, "clear", { idle: true, reason: observation.reason }),
        ],
      };
    }
    case "wake":
      if (current.state !== "IDLE" || current.desired !== "running" || current.workload)
        return { next: current, actions: [] };
      return start({ ...current, waking: true }, [], WAKE_MESSAGE);
    case "health-failed":
      if (stale(observation.attempt)) return { next: current, actions: [] };
      return {
        next: { ...current, state: "UNHEALTHY" },
        actions: [report("UNHEALTHY", observation.message, "active")],
      };
    case "backoff-elapsed":
      if (!current.backoff) return { next: current, actions: [] };
      return { next: { ...current, backoff: false }, actions: [{ type: "refresh" }] };
  }
}

function onDesired(current: Lifecycle, seen: Extract<Observation, { type: "desired" }>): Decision {
  const newGeneration = seen.generation !== current.generation;
  let next: Lifecycle = {
    ...current,
    state: seen.state,
    desired: seen.desired,
    generation: seen.generation,
    revision: seen.revision,
    failedRevision: seen.failedRevision,
    ...(newGeneration
      ? { restarts: seen.restartCount, lastRestartAt: seen.now, restartReason: undefined }
      : {}),
  };
  if (seen.desired === "deleted") {
    next = { ...next, state: "REMOVED", workload: undefined, backoff: false, waking: false };
    return {
      next,
      actions: [
        { type: "cancel-restart" },
        { type: "teardown" },
        { type: "remove" },
        report("REMOVED", "workload removed", "clear"),
        { type: "forget" },
      ],
    };
  }
  if (seen.desired === "stopped") {
    const actions: Action[] = [{ type: "cancel-restart" }];
    if (seen.present || current.workload) {
      actions.push(report("STOPPING", "stopping"), { type: "teardown" }, { type: "remove" });
    }
    actions.push(report("STOPPED", "stopped", "clear"));
    return {
      next: { ...next, state: "STOPPED", workload: undefined, backoff: false, waking: false },
      actions,
    };
  }
  // desired running
  if (!newGeneration && current.backoff) return { next, actions: [] }; // a restart is scheduled
  const cancel: Action[] = current.backoff ? [{ type: "cancel-restart" }] : [];
  next = { ...next, backoff: false };
  const reason = next.restartReason;
  if (!reason && current.workload && current.workload.generation === seen.generation) {
    return { next, actions: cancel };
  }
  if (!reason && seen.state === "FAILED" && seen.failedRevision === seen.revision) {
    return { next, actions: cancel };
  }
  // Asleep at this generation (a new one resets the row to PENDING): only a wake starts it.
  if (!reason && seen.state === "IDLE" && !current.waking) {
    return { next: { ...next, state: "IDLE", workload: undefined }, actions: cancel };
  }
  return start(next, cancel);
}

/** A new attempt: STARTING reported unless an adopted workload is already RUNNING/UNHEALTHY. */
function start(current: Lifecycle, before: Action[], why?: string): Decision {
  const reason = current.restartReason;
  const attempt = current.attempts + 1;
  const actions: Action[] = [...before, { type: "teardown" }];
  let state = current.state;
  if (reason || (state !== "RUNNING" && state !== "UNHEALTHY")) {
    const message = reason
      ? `restarting after: ${reason}`
      : (why ?? `starting generation ${current.generation}`);
    actions.push(report("STARTING", message, "clear-endpoint"));
    state = "STARTING";
  }
  actions.push({ type: "start", attempt });
  return {
    next: { ...current, state, attempts: attempt, workload: undefined, restartReason: undefined },
    actions,
  };
}

/** A crash (or a failed start a restart may fix): restart with backoff, or FAILED when used up. */
function crash(current: Lifecycle, reason: string, now: number, policy: RestartPolicy): Decision {
  // A workload that ran long enough since its last restart starts a new series.
  const series =
    current.restarts > 0 && now - current.lastRestartAt > policy.stableMs ? 0 : current.restarts;
  const restarts = series + 1;
  const counted = { ...current, restarts, lastRestartAt: now };
  if (restarts > policy.maxAttempts) {
    return fail(counted, `gave up after ${policy.maxAttempts} restarts; last: ${reason}`);
  }
  const delayMs = backoffDelay(policy, restarts);
  const message = `${reason}; restart ${restarts} of ${policy.maxAttempts} in ${Math.round(delayMs / 100) / 10}s`;
  return {
    next: {
      ...counted,
      state: "UNHEALTHY",
      workload: undefined,
      backoff: true,
      restartReason: reason,
    },
    actions: [
      { type: "teardown" },
      report("UNHEALTHY", message),
      { type: "cancel-restart" },
      { type: "schedule-restart", delayMs },
    ],
  };
}

function fail(current: Lifecycle, message: string): Decision {
  return {
    next: {
      ...current,
      state: "FAILED",
      failedRevision: current.revision,
      workload: undefined,
      backoff: false,
      restartReason: undefined,
      waking: false,
    },
    actions: [
      { type: "cancel-restart" },
      { type: "teardown" },
      { type: "remove", bestEffort: true },
      report("FAILED", message, "clear"),
    ],
  };
}
