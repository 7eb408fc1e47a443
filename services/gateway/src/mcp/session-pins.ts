import type { McpEndpoint } from "./types.js";

/** Which endpoint each MCP session started on, so the session stays there while it lives. */
export interface SessionPins {
  get(instanceId: string, sessionId: string): McpEndpoint | undefined;
  set(sessionId: string, endpoint: McpEndpoint): void;
  delete(instanceId: string, sessionId: string): void;
}

/** Session pins in memory, bounded in count, forgotten after `idleMs` without use. */
export function createSessionPins(
  options: { max?: number; idleMs?: number; now?: () => number } = {},
): SessionPins {
  const max = options.max ?? 10_000;
  const idleMs = options.idleMs ?? 60 * 60_000;
  const now = options.now ?? Date.now;
  const pins = new Map<string, { endpoint: McpEndpoint; used: number }>();
  const keyOf = (instanceId: string, sessionId: string) => `${instanceId}\n${sessionId}`;
  return {
    get(instanceId, sessionId) {
      const key = keyOf(instanceId, sessionId);
      const pin = pins.get(key);
      if (!pin) return undefined;
      pins.delete(key);
      if (pin.used + idleMs <= now()) return undefined;
      // Re-inserted so that the Map's order is least recently used first.
      pins.set(key, { endpoint: pin.endpoint, used: now() });
      return pin.endpoint;
    },
    set(sessionId, endpoint) {
      const key = keyOf(endpoint.instanceId, sessionId);
      pins.delete(key);
      if (pins.size >= max) pins.delete(pins.keys().next().value!);
      pins.set(key, { endpoint, used: now() });
    },
    delete(instanceId, sessionId) {
      pins.delete(keyOf(instanceId, sessionId));
    },
  };
}
