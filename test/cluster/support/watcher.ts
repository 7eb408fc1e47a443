import type { Ledger } from "../../faults/support/load.js";

/** What a Watch stream showed of one instance. */
interface Seen {
  names: Set<string>;
  descriptions: Set<string>;
  deleted: boolean;
}

/** A client of GET /v1/instances:watch on one gateway, as a user runs it. */
export interface Watcher {
  /** Whether any change of an instance with this name was shown. */
  seen(name: string): boolean;
  /** The acknowledged changes of the ledger this stream did not show. */
  missing(ledger: Ledger): string[];
  events(): number;
  /** How many times the stream ended and was opened again. */
  reconnects(): number;
  stop(): Promise<void>;
}

const MAX_RECONNECTS = 200;

/**
 * Streams WatchInstances over REST (newline-delimited JSON) from one gateway and remembers every
 * instance state it shows. A stream that ends (its upstream replica died) is opened again at
 * once, as a client would; the reconnects are counted, not hidden.
 */
export function startWatcher(gatewayUrl: string, apiKey: string): Watcher {
  const controller = new AbortController();
  const byId = new Map<string, Seen>();
  const names = new Set<string>();
  let events = 0;
  let reconnects = 0;
  const take = (line: string) => {
    if (!line.trim()) return;
    const message = JSON.parse(line) as {
      instance?: { id?: string; name?: string; description?: string };
      deleted?: boolean;
    };
    const id = message.instance?.id;
    if (!id) return;
    events++;
    const seen = byId.get(id) ?? { names: new Set(), descriptions: new Set(), deleted: false };
    if (message.instance?.name) {
      seen.names.add(message.instance.name);
      names.add(message.instance.name);
    }
    if (message.instance?.description) seen.descriptions.add(message.instance.description);
    if (message.deleted) seen.deleted = true;
    byId.set(id, seen);
  };
  const running = (async () => {
    while (!controller.signal.aborted && reconnects < MAX_RECONNECTS) {
      try {
        const response = await fetch(`${gatewayUrl}/v1/instances:watch`, {
          headers: { authorization: `Bearer ${apiKey}` },
          signal: controller.signal,
        });
        const decoder = new TextDecoder();
        let pending = "";
        for await (const chunk of response.body ?? []) {
          pending += decoder.decode(chunk as Uint8Array, { stream: true });
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          for (const line of lines) take(line);
        }
      } catch {
        // aborted, or the stream broke: open it again below
      }
      if (controller.signal.aborted) break;
      reconnects++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    seen: (name) => names.has(name),
    missing(ledger) {
      const missed: string[] = [];
      for (const [id, name] of ledger.created) {
        if (!byId.get(id)?.names.has(name)) missed.push(`created ${name}`);
      }
      for (const [id, { description }] of ledger.updates) {
        if (!byId.get(id)?.descriptions.has(description)) missed.push(`update of ${id}`);
      }
      for (const id of ledger.deleted) {
        if (!byId.get(id)?.deleted) missed.push(`deletion of ${id}`);
      }
      return missed;
    },
    events: () => events,
    reconnects: () => reconnects,
    async stop() {
      controller.abort();
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    },
  };
}
