/**
 * The idle policy of a docker instance (json_spec `idle`): after `timeout` seconds without MCP
 * traffic and with no open stream, the runtime stops the workload and reports IDLE; the first
 * MCP request starts it again and is answered 503 with Retry-After if the server has not answered
 * its probe within `wake_timeout` seconds.
 *
 * ```json
 * "idle": { "timeout": 600, "wake_timeout": 30 }
 * ```
 *
 * Where the timeout comes from, first match wins: the instance's `idle.timeout` (0: never idle),
 * the catalog entry's `idle_timeout_seconds` (copied into json_spec by the instances service when
 * the request leaves `idle` out), the runtime's RUNTIME_IDLE_TIMEOUT_SECONDS (0: never). url
 * instances are never idled: nothing of theirs runs here to stop.
 */
import { checkKnownKeys, isObject, type Problems } from "./problems.js";

/** The idle policy as json_spec states it (undefined fields: the defaults apply). */
export interface IdleSpec {
  /** Milliseconds without traffic before the workload is stopped; 0: never. */
  timeoutMs?: number;
  /** Milliseconds a request waits for a wake-up before it is answered 503. */
  wakeTimeoutMs?: number;
}

/** Bounds of the idle policy's fields, in seconds. */
export const IDLE_LIMITS = {
  /** 30 days: a longer timeout is no different from never. */
  maxTimeoutSeconds: 2_592_000,
  minWakeTimeoutSeconds: 1,
  maxWakeTimeoutSeconds: 600,
  /** The wait for a wake-up when neither the instance nor the deployment names one. */
  defaultWakeTimeoutSeconds: 60,
} as const;

export const IDLE_FIELDS = ["timeout", "wake_timeout"] as const;

const whole = (value: unknown, min: number, max: number): boolean =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;

/** Checks json_spec.idle (a docker spec's); every problem names its field. */
export function checkIdle(value: unknown, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, 'must be an object such as {"timeout": 600}');
    return;
  }
  checkKnownKeys(value, IDLE_FIELDS, at, "the idle policy", problems);
  if (value.timeout !== undefined && !whole(value.timeout, 0, IDLE_LIMITS.maxTimeoutSeconds))
    problems.add(
      `${at}.timeout`,
      `must be a whole number of seconds from 0 (never idle) to ${IDLE_LIMITS.maxTimeoutSeconds}`,
    );
  const { minWakeTimeoutSeconds: min, maxWakeTimeoutSeconds: max } = IDLE_LIMITS;
  if (value.wake_timeout !== undefined && !whole(value.wake_timeout, min, max))
    problems.add(`${at}.wake_timeout`, `must be a whole number of seconds from ${min} to ${max}`);
}

/** json_spec.idle of a valid spec in milliseconds; undefined when the spec has none. */
export function readIdle(value: unknown): IdleSpec | undefined {
  if (!isObject(value)) return undefined;
  const spec: IdleSpec = {};
  if (typeof value.timeout === "number") spec.timeoutMs = value.timeout * 1000;
  if (typeof value.wake_timeout === "number") spec.wakeTimeoutMs = value.wake_timeout * 1000;
  return spec;
}

/** The policy the runtime applies: the spec's fields, else the deployment's defaults. */
export interface IdlePolicy {
  /** 0: never idle. */
  timeoutMs: number;
  wakeTimeoutMs: number;
}

/** The effective idle policy of a spec's `idle` under the deployment's defaults. */
export function idlePolicyOf(
  idle: IdleSpec | undefined,
  defaults: { timeoutMs: number; wakeTimeoutMs?: number },
): IdlePolicy {
  return {
    timeoutMs: idle?.timeoutMs ?? defaults.timeoutMs,
    wakeTimeoutMs:
      idle?.wakeTimeoutMs ?? defaults.wakeTimeoutMs ?? IDLE_LIMITS.defaultWakeTimeoutSeconds * 1000,
  };
}
