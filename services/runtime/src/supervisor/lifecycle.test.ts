import { describe, expect, it } from "vitest";
import {
  type Action,
  decide,
  initialLifecycle,
  type Lifecycle,
  type Observation,
} from "./lifecycle.js";
import type { RestartPolicy } from "./restart-policy.js";

const policy: RestartPolicy = { baseMs: 1000, maxMs: 30_000, maxAttempts: 2, stableMs: 60_000 };
const NOW = 1_000_000;

const base: Lifecycle = {
  ...initialLifecycle(),
  desired: "running",
  generation: 1,
  revision: 1,
  attempts: 1,
  lastRestartAt: NOW,
};
const at = (state: Lifecycle["state"], extra: Partial<Lifecycle> = {}): Lifecycle => ({
  ...base,
  state,
  ...extra,
});
const held = { workload: { attempt: 1, generation: 1 } };

const desired = (extra: Partial<Extract<Observation, { type: "desired" }>> = {}): Observation => ({
  type: "desired",
  desired: "running",
  generation: 1,
  revision: 1,
  failedRevision: -1,
  state: "PENDING",
  restartCount: 0,
  present: false,
  now: NOW,
  ...extra,
});

/** The action types in order, with a report's state (what a reader of the table cares about). */
const summary = (actions: Action[]) =>
  actions.map((a) => (a.type === "report" ? `report ${a.state}` : a.type));

interface Row {
  name: string;
  from: Lifecycle;
  observe: Observation;
  to: Lifecycle["state"];
  actions: string[];
  check?: (next: Lifecycle, actions: Action[]) => void;
}

const table: Row[] = [
  {
    name: "PENDING → STARTING when the desired state says running",
    from: initialLifecycle(),
    observe: desired(),
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
  },
  {
    name: "STARTING keeps its state once the start succeeded (health decides RUNNING)",
    from: at("STARTING"),
    observe: { type: "start-succeeded", attempt: 1 },
    to: "STARTING",
    actions: [],
    check: (next) => expect(next.workload).toEqual({ attempt: 1, generation: 1 }),
  },
  {
    name: "STARTING → RUNNING when the MCP probe answers",
    from: at("STARTING", held),
    observe: { type: "health-ok", attempt: 1, message: "ok" },
    to: "RUNNING",
    actions: ["report RUNNING"],
  },
  {
    name: "RUNNING → UNHEALTHY when probes keep failing",
    from: at("RUNNING", held),
    observe: { type: "health-failed", attempt: 1, message: "probe failing" },
    to: "UNHEALTHY",
    actions: ["report UNHEALTHY"],
  },
  {
    name: "UNHEALTHY → RUNNING when the probe answers again",
    from: at("UNHEALTHY", held),
    observe: { type: "health-ok", attempt: 1, message: "ok" },
    to: "RUNNING",
    actions: ["report RUNNING"],
  },
  {
    name: "a probe of a replaced workload changes nothing",
    from: at("RUNNING", { workload: { attempt: 2, generation: 1 } }),
    observe: { type: "health-failed", attempt: 1, message: "old" },
    to: "RUNNING",
    actions: [],
  },
  {
    name: "RUNNING → UNHEALTHY on a crash, restart scheduled with backoff",
    from: at("RUNNING", held),
    observe: { type: "crashed", attempt: 1, reason: "exited with code 1", now: NOW },
    to: "UNHEALTHY",
    actions: ["teardown", "report UNHEALTHY", "cancel-restart", "schedule-restart"],
    check: (next, actions) => {
      expect(next).toMatchObject({ backoff: true, restarts: 1, workload: undefined });
      expect(actions).toContainEqual({ type: "schedule-restart", delayMs: 1000 });
    },
  },
  {
    name: "crash during start (the container exits before it answers): restart with backoff",
    from: at("STARTING", held),
    observe: { type: "crashed", attempt: 1, reason: "exited with code 2", now: NOW },
    to: "UNHEALTHY",
    actions: ["teardown", "report UNHEALTHY", "cancel-restart", "schedule-restart"],
  },
  {
    name: "a start that failed in a retryable way is a crash",
    from: at("STARTING"),
    observe: { type: "start-failed", attempt: 1, reason: "oops", permanent: false, now: NOW },
    to: "UNHEALTHY",
    actions: ["teardown", "report UNHEALTHY", "cancel-restart", "schedule-restart"],
  },
  {
    name: "STARTING → FAILED on a permanent start error (missing image)",
    from: at("STARTING"),
    observe: { type: "start-failed", attempt: 1, reason: "no image", permanent: true, now: NOW },
    to: "FAILED",
    actions: ["cancel-restart", "teardown", "remove", "report FAILED"],
    check: (next) => expect(next.failedRevision).toBe(1),
  },
  {
    name: "→ FAILED once the restarts are used up",
    from: at("RUNNING", { ...held, restarts: 2, lastRestartAt: NOW - 1000 }),
    observe: { type: "crashed", attempt: 1, reason: "boom", now: NOW },
    to: "FAILED",
    actions: ["cancel-restart", "teardown", "remove", "report FAILED"],
    check: (_, actions) =>
      expect(actions).toContainEqual(
        expect.objectContaining({ message: "gave up after 2 restarts; last: boom" }),
      ),
  },
  {
    name: "a crash long after the last restart starts a new series",
    from: at("RUNNING", { ...held, restarts: 2, lastRestartAt: NOW - 120_000 }),
    observe: { type: "crashed", attempt: 1, reason: "boom", now: NOW },
    to: "UNHEALTHY",
    actions: ["teardown", "report UNHEALTHY", "cancel-restart", "schedule-restart"],
    check: (next) => expect(next.restarts).toBe(1),
  },
  {
    name: "backoff elapsed: read the row again",
    from: at("UNHEALTHY", { backoff: true, restartReason: "boom" }),
    observe: { type: "backoff-elapsed" },
    to: "UNHEALTHY",
    actions: ["refresh"],
  },
  {
    name: "UNHEALTHY → STARTING after the backoff, naming the reason",
    from: at("UNHEALTHY", { restartReason: "boom" }),
    observe: desired({ state: "UNHEALTHY" }),
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
    check: (_, actions) =>
      expect(actions).toContainEqual(
        expect.objectContaining({ message: "restarting after: boom" }),
      ),
  },
  {
    name: "while a restart is scheduled, a kick waits for it",
    from: at("UNHEALTHY", { backoff: true, restartReason: "boom" }),
    observe: desired({ state: "UNHEALTHY" }),
    to: "UNHEALTHY",
    actions: [],
  },
  {
    name: "a running workload of the current generation is left alone",
    from: at("RUNNING", held),
    observe: desired({ state: "RUNNING" }),
    to: "RUNNING",
    actions: [],
  },
  {
    name: "after a runtime restart a RUNNING workload is adopted without reporting STARTING",
    from: initialLifecycle(),
    observe: desired({ state: "RUNNING" }),
    to: "RUNNING",
    actions: ["teardown", "start"],
  },
  {
    name: "secret rotation (a new generation while RUNNING) replaces the workload",
    from: at("RUNNING", held),
    observe: desired({ generation: 2, revision: 2, state: "PENDING" }),
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
    check: (next) => expect(next).toMatchObject({ generation: 2, attempts: 2, restarts: 0 }),
  },
  {
    name: "a new generation cancels a scheduled restart",
    from: at("UNHEALTHY", { backoff: true, restartReason: "boom" }),
    observe: desired({ generation: 2, revision: 2 }),
    to: "STARTING",
    actions: ["cancel-restart", "teardown", "report STARTING", "start"],
  },
  {
    name: "FAILED stays FAILED until a newer revision",
    from: at("FAILED", { failedRevision: 1 }),
    observe: desired({ state: "FAILED", failedRevision: 1 }),
    to: "FAILED",
    actions: [],
  },
  {
    name: "FAILED → STARTING on a newer revision",
    from: at("FAILED", { failedRevision: 1 }),
    observe: desired({ state: "FAILED", failedRevision: 1, revision: 2 }),
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
  },
  {
    name: "RUNNING → STOPPING → STOPPED when stopped",
    from: at("RUNNING", held),
    observe: desired({ desired: "stopped", state: "RUNNING" }),
    to: "STOPPED",
    actions: ["cancel-restart", "report STOPPING", "teardown", "remove", "report STOPPED"],
  },
  {
    name: "stopped with nothing on the engine: STOPPED directly",
    from: initialLifecycle(),
    observe: desired({ desired: "stopped" }),
    to: "STOPPED",
    actions: ["cancel-restart", "report STOPPED"],
  },
  {
    name: "stopped after a runtime restart, a container still there: STOPPING first",
    from: initialLifecycle(),
    observe: desired({ desired: "stopped", state: "RUNNING", present: true }),
    to: "STOPPED",
    actions: ["cancel-restart", "report STOPPING", "teardown", "remove", "report STOPPED"],
  },
  {
    name: "STOPPED → STARTING when started again",
    from: at("STOPPED"),
    observe: desired({ state: "STOPPED", revision: 2 }),
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
  },
  {
    name: "delete requested while RUNNING: removed (DELETING until gone), then REMOVED",
    from: at("RUNNING", held),
    observe: desired({ desired: "deleted", state: "RUNNING" }),
    to: "REMOVED",
    actions: ["cancel-restart", "teardown", "remove", "report REMOVED", "forget"],
  },
  {
    name: "delete during start: the starting workload is removed",
    from: at("STARTING", held),
    observe: desired({ desired: "deleted", state: "STARTING" }),
    to: "REMOVED",
    actions: ["cancel-restart", "teardown", "remove", "report REMOVED", "forget"],
  },
  {
    name: "delete during a backoff: the restart is cancelled",
    from: at("UNHEALTHY", { backoff: true }),
    observe: desired({ desired: "deleted", state: "UNHEALTHY" }),
    to: "REMOVED",
    actions: ["cancel-restart", "teardown", "remove", "report REMOVED", "forget"],
  },
  {
    name: "a vanished row (or a tombstone) ends the supervisor",
    from: at("RUNNING", held),
    observe: { type: "gone" },
    to: "REMOVED",
    actions: ["cancel-restart", "teardown", "forget"],
  },
  {
    name: "engine unavailable: STARTING and waiting, no restart used",
    from: at("STARTING"),
    observe: { type: "engine-unavailable" },
    to: "STARTING",
    actions: ["report STARTING", "retry-later"],
    check: (next) => expect(next.restarts).toBe(0),
  },
  {
    name: "instances service away: STARTING and waiting for secrets",
    from: at("STARTING"),
    observe: { type: "secrets-unavailable" },
    to: "STARTING",
    actions: ["report STARTING", "retry-later"],
  },
  {
    name: "secrets refused for good: FAILED",
    from: at("STARTING"),
    observe: { type: "secrets-refused", message: "secret API_KEY is not set" },
    to: "FAILED",
    actions: ["cancel-restart", "teardown", "remove", "report FAILED"],
  },
  {
    name: "an invalid spec: FAILED",
    from: at("STARTING"),
    observe: { type: "spec-invalid", message: "json_spec.image is required" },
    to: "FAILED",
    actions: ["cancel-restart", "teardown", "remove", "report FAILED"],
  },
  {
    name: "RUNNING → IDLE when the idle deadline passes: the workload sleeps, announced",
    from: at("RUNNING", held),
    observe: { type: "idle-elapsed", reason: "no MCP traffic for 5s" },
    to: "IDLE",
    actions: ["cancel-restart", "teardown", "sleep", "report IDLE"],
    check: (next, actions) => {
      expect(next.workload).toBeUndefined();
      expect(next.desired).toBe("running");
      expect(actions.at(-1)).toMatchObject({
        endpoint: "clear",
        idleChange: { idle: true, reason: "no MCP traffic for 5s" },
      });
    },
  },
  {
    name: "no sleep while a restart is scheduled or nothing runs",
    from: at("UNHEALTHY", { backoff: true }),
    observe: { type: "idle-elapsed", reason: "x" },
    to: "UNHEALTHY",
    actions: [],
  },
  {
    name: "no sleep while STARTING",
    from: at("STARTING", held),
    observe: { type: "idle-elapsed", reason: "x" },
    to: "STARTING",
    actions: [],
  },
  {
    name: "IDLE stays IDLE on a reconcile pass (desired running, same generation)",
    from: at("IDLE"),
    observe: desired({ state: "IDLE" }),
    to: "IDLE",
    actions: [],
  },
  {
    name: "IDLE after a runtime restart stays IDLE (the row says so for its generation)",
    from: initialLifecycle(),
    observe: desired({ state: "IDLE" }),
    to: "IDLE",
    actions: [],
  },
  {
    name: "IDLE → STARTING on a wake, then RUNNING announces the wake-up",
    from: at("IDLE"),
    observe: { type: "wake" },
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
    check: (next, actions) => {
      expect(next.waking).toBe(true);
      expect(actions[1]).toMatchObject({ message: "woken by an MCP request" });
      const running = decide(
        { ...next, workload: { attempt: next.attempts, generation: 1 } },
        { type: "health-ok", attempt: next.attempts, message: "ok" },
        policy,
      );
      expect(running.next).toMatchObject({ state: "RUNNING", waking: false });
      expect(running.actions).toEqual([
        expect.objectContaining({ idleChange: { idle: false, reason: "woken by an MCP request" } }),
      ]);
    },
  },
  {
    name: "a wake of an instance that is not IDLE changes nothing (concurrent wakes start once)",
    from: at("STARTING", { waking: true }),
    observe: { type: "wake" },
    to: "STARTING",
    actions: [],
  },
  {
    name: "IDLE → STOPPED when stopped: nothing to remove",
    from: at("IDLE"),
    observe: desired({ desired: "stopped", state: "IDLE", revision: 2 }),
    to: "STOPPED",
    actions: ["cancel-restart", "report STOPPED"],
  },
  {
    name: "IDLE with a new generation (restart, spec change) starts it",
    from: at("IDLE"),
    observe: desired({ generation: 2, revision: 2, state: "PENDING" }),
    to: "STARTING",
    actions: ["teardown", "report STARTING", "start"],
  },
];

describe("decide", () => {
  it.each(table)("$name", ({ from, observe, to, actions, check }) => {
    const decision = decide(from, observe, policy);
    expect(decision.next.state).toBe(to);
    expect(summary(decision.actions)).toEqual(actions);
    check?.(decision.next, decision.actions);
  });

  it("is pure: the same inputs give the same decision and the input is not changed", () => {
    const from = at("RUNNING", held);
    const copy = structuredClone(from);
    const observation: Observation = { type: "crashed", attempt: 1, reason: "x", now: NOW };
    expect(decide(from, observation, policy)).toEqual(decide(from, observation, policy));
    expect(from).toEqual(copy);
  });
});
