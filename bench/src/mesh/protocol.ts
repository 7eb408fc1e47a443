/** What the bench asks of a service process over its IPC channel. */
export type ChildRequest =
  | { id: number; op: "profile-start" }
  | { id: number; op: "profile-stop"; file: string }
  | { id: number; op: "reconcile" }
  | { id: number; op: "capture-start"; message: string }
  | { id: number; op: "capture-count" }
  | { id: number; op: "capture-stop" }
  | { id: number; op: "memory" };

/** A log line seen while capturing: the id it carried and when it was written (wall ms). */
export interface CapturedLine {
  instanceId: string;
  at: number;
}

/** Heap figures after a full garbage collection. */
export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  external: number;
}

/** What a service process sends back. */
export type ChildMessage =
  | { type: "ready"; port: number; bridgePort?: number }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: string };
