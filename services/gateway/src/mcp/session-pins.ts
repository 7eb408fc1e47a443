import type { McpEndpoint } from "./types.js";

/**
 * Which endpoint each MCP session started on, so the session stays there while it lives, and
 * which key opened it, so sessions can be counted per key and per instance.
 */
export interface SessionPins {
  get(instanceId: string, sessionId: string): McpEndpoint | undefined;
  set(sessionId: string, endpoint: McpEndpoint, keyId: string): void;
  delete(instanceId: string, sessionId: string): void;
  /** Live sessions opened with the key. */
  countForKey(keyId: string): number;
  /** Live sessions on the instance. */
  countForInstance(instanceId: string): number;
  /** Live sessions per instance id (the sessions-open metric). */
  openByInstance(): ReadonlyMap<string, number>;
}

interface Pin {
  endpoint: McpEndpoint;
  keyId: string;
  used: number;
}

/** Session pins in memory, bounded in count, forgotten after `idleMs` without use. */
export function createSessionPins(
  options: { max?: number; idleMs?: number; now?: () => number } = {},
): SessionPins {
  const max = options.max ?? 10_000;
  const idleMs = options.idleMs ?? 60 * 60_000;
  const now = options.now ?? Date.now;
  // Least recently used first (entries are re-inserted on use).
  const pins = new Map<string, Pin>();
  const perKey = new Map<string, number>();
  const perInstance = new Map<string, number>();
  const keyOf = (instanceId: string, sessionId: string) => `${instanceId}\n${sessionId}`;
  const bump = (counts: Map<string, number>, id: string, by: number) => {
    const n = (counts.get(id) ?? 0) + by;
    if (n > 0) counts.set(id, n);
    else counts.delete(id);
  };
  const remove = (key: string) => {
    const pin = pins.get(key);
    if (!pin) return;
    pins.delete(key);
    bump(perKey, pin.keyId, -1);
    bump(perInstance, pin.endpoint.instanceId, -1);
  };
  // Idle sessions stop counting: the oldest are at the front, so this stops at the first live one.
  const sweep = () => {
    for (const [key, pin] of pins) {
      if (pin.used + idleMs > now()) break;
      remove(key);
    }
  };
  return {
    get(instanceId, sessionId) {
      const key = keyOf(instanceId, sessionId);
      const pin = pins.get(key);
      if (!pin) return undefined;
      if (pin.used + idleMs <= now()) {
        remove(key);
        return undefined;
      }
      pins.delete(key);
      pins.set(key, { ...pin, used: now() });
      return pin.endpoint;
    },
    set(sessionId, endpoint, keyId) {
      const key = keyOf(endpoint.instanceId, sessionId);
      remove(key);
      sweep();
      if (pins.size >= max) remove(pins.keys().next().value!);
      pins.set(key, { endpoint, keyId, used: now() });
      bump(perKey, keyId, 1);
      bump(perInstance, endpoint.instanceId, 1);
    },
    delete(instanceId, sessionId) {
      remove(keyOf(instanceId, sessionId));
    },
    countForKey(keyId) {
      sweep();
      return perKey.get(keyId) ?? 0;
    },
    countForInstance(instanceId) {
      sweep();
      return perInstance.get(instanceId) ?? 0;
    },
    openByInstance() {
      sweep();
      return perInstance;
    },
  };
}
