import type {
  McpServerInstance,
  WatchInstancesResponse,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";

/**
 * The instances page's list, kept live by one WatchInstances stream (the whole collection on one
 * connection, instead of one WatchInstance stream per row, which ran into the browser's six
 * connections per origin). Pure apart from the two calls it is given, so it is unit-tested.
 */

/** Where the list comes from: one listing, and the collection-wide change stream. */
export interface InstanceListSource {
  /** Every instance the caller may see (all pages). */
  list(signal: AbortSignal): Promise<McpServerInstance[]>;
  /** WatchInstances; the stream is opened by the first next(). */
  watch(signal: AbortSignal): AsyncIterable<WatchInstancesResponse>;
}

/** What the page is told. */
export interface InstanceListEvents {
  /** The whole list after the listing and after every change, newest first. */
  onList(instances: McpServerInstance[]): void;
  /** "live" once listed and watching; "reconnecting" after a drop until listed again. */
  onState?(state: "live" | "reconnecting", error?: unknown): void;
}

const millis = (t: { seconds: bigint; nanos: number } | undefined) =>
  t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0;

/** When an instance last changed, by what it carries (a spec change or a status change). */
function changedAt(instance: McpServerInstance): number {
  return Math.max(millis(instance.updateTime), millis(instance.statusTime));
}

/**
 * The list as one listing plus the changes streamed since the stream was opened. The stream is
 * opened before the listing is read (so no change falls between them), which means a change can
 * arrive before the listing that already holds it, or an older one after: each instance shows
 * whichever of the two is newer, and a deletion wins over the listing.
 */
export interface InstanceView {
  listed(instances: readonly McpServerInstance[]): void;
  apply(change: WatchInstancesResponse): void;
  /** Undefined until the listing has arrived. */
  current(): McpServerInstance[] | undefined;
}

export function createInstanceView(): InstanceView {
  let listing: Map<string, McpServerInstance> | undefined;
  const changes = new Map<string, McpServerInstance | "deleted">();
  return {
    listed(instances) {
      listing = new Map(instances.map((i) => [i.id, i]));
    },
    apply({ instance, deleted }) {
      if (!instance?.id) return;
      const before = changes.get(instance.id);
      if (deleted) changes.set(instance.id, "deleted");
      else if (before === "deleted") return;
      else if (!before || changedAt(instance) >= changedAt(before)) {
        changes.set(instance.id, instance);
      }
    },
    current() {
      if (!listing) return undefined;
      const all = new Map(listing);
      for (const [id, change] of changes) {
        const listed = all.get(id);
        if (change === "deleted") all.delete(id);
        else if (!listed || changedAt(change) >= changedAt(listed)) all.set(id, change);
      }
      return [...all.values()].sort(
        (a, b) => millis(b.createTime) - millis(a.createTime) || a.name.localeCompare(b.name),
      );
    },
  };
}

/**
 * Follows the list until `signal` aborts: opens the stream, lists, applies every change; when
 * the stream drops (an error, or its end: the service may end it when a watcher falls behind)
 * it waits `retryMs` and starts over with a fresh listing, so nothing missed while away stays
 * missed.
 */
export async function followInstanceList(
  source: InstanceListSource,
  events: InstanceListEvents,
  signal: AbortSignal,
  retryMs = 2000,
): Promise<void> {
  while (!signal.aborted) {
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    signal.addEventListener("abort", stop, { once: true });
    const view = createInstanceView();
    const emit = () => {
      const list = view.current();
      if (list) events.onList(list);
    };
    let failure: unknown;
    try {
      const changes = source.watch(attempt.signal)[Symbol.asyncIterator]();
      let next = changes.next(); // opens the stream before the listing is read
      source.list(attempt.signal).then(
        (instances) => {
          view.listed(instances);
          emit();
          events.onState?.("live");
        },
        (error: unknown) => {
          failure = error;
          attempt.abort();
        },
      );
      for (;;) {
        const { done, value } = await next;
        if (done) break;
        view.apply(value);
        emit();
        next = changes.next();
      }
    } catch (error) {
      failure ??= error;
    } finally {
      attempt.abort();
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) return;
    events.onState?.("reconnecting", failure);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryMs);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
