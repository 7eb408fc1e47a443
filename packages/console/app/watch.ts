import type { BerthClient, McpServerInstance } from "@berth/sdk";
import { useEffect, useState } from "react";
import { asBerthError, STREAM_TIMEOUT_MS } from "./api";

/**
 * Follows one instance over the WatchInstance stream (Connect server streaming): every change
 * arrives as it happens, no polling. A dropped stream is reopened after a short pause; the
 * instance being gone (its last message, or NOT_FOUND) ends the watch with `gone`.
 */
export function watchInstance(
  client: BerthClient,
  id: string,
  onChange: (instance: McpServerInstance | undefined) => void,
  signal: AbortSignal,
): void {
  const loop = async () => {
    while (!signal.aborted) {
      try {
        for await (const { instance } of client.instances.watchInstance(
          { id },
          { signal, timeoutMs: STREAM_TIMEOUT_MS },
        )) {
          if (instance) onChange(instance);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (asBerthError(error).code === "NOT_FOUND") {
          onChange(undefined);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  void loop();
}

/** The live state of one instance (undefined until the first message; null when it is gone). */
export function useWatchedInstance(
  client: BerthClient,
  id: string,
): McpServerInstance | undefined | null {
  const [instance, setInstance] = useState<McpServerInstance | undefined | null>();
  useEffect(() => {
    const controller = new AbortController();
    watchInstance(client, id, (next) => setInstance(next ?? null), controller.signal);
    return () => controller.abort();
  }, [client, id]);
  return instance;
}
