import { Code, ConnectError } from "@berth/platform";

/** Counts the open server streams (:watch, logs) of each key, up to a cap. */
export interface StreamLimiter {
  /** Counts one more stream of the key until `ended` aborts; RESOURCE_EXHAUSTED at the cap. */
  open(keyId: string, ended: AbortSignal): void;
  count(keyId: string): number;
}

/** A StreamLimiter in memory. */
export function createStreamLimiter(max: number): StreamLimiter {
  const open = new Map<string, number>();
  return {
    open(keyId, ended) {
      if (ended.aborted) return;
      const n = open.get(keyId) ?? 0;
      if (n >= max) {
        throw new ConnectError(
          `the API key has ${max} open streams, the most allowed: close one first`,
          Code.ResourceExhausted,
          { "retry-after": "10" },
        );
      }
      open.set(keyId, n + 1);
      ended.addEventListener(
        "abort",
        () => {
          const left = (open.get(keyId) ?? 1) - 1;
          if (left > 0) open.set(keyId, left);
          else open.delete(keyId);
        },
        { once: true },
      );
    },
    count: (keyId) => open.get(keyId) ?? 0,
  };
}
