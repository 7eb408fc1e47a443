import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { exitReason, podState } from "./pod-status.js";

const pod = (status: V1Pod["status"], metadata: V1Pod["metadata"] = {}): V1Pod => ({
  metadata,
  status,
});
const container = (fields: object) => ({
  name: "mcp",
  image: "img:1",
  imageID: "",
  ready: false,
  restartCount: 0,
  ...fields,
});

describe("podState", () => {
  it("reads a running container with its restart count", () => {
    const running = pod({
      phase: "Running",
      containerStatuses: [container({ restartCount: 2, state: { running: {} } })],
    });
    expect(podState(running)).toEqual({ type: "running", restarts: 2 });
  });

  it("fails for good when the image cannot be pulled", () => {
    const state = podState(
      pod({
        phase: "Pending",
        containerStatuses: [
          container({ state: { waiting: { reason: "ImagePullBackOff", message: "not found" } } }),
        ],
      }),
    );
    expect(state).toEqual({
      type: "failed",
      reason: "image img:1 cannot be pulled by the cluster (ImagePullBackOff: not found)",
      permanent: true,
    });
  });

  it("names an out-of-memory kill in a crash loop", () => {
    const state = podState(
      pod({
        phase: "Running",
        containerStatuses: [
          container({
            state: { waiting: { reason: "CrashLoopBackOff" } },
            lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } },
          }),
        ],
      }),
    );
    expect(state).toEqual({
      type: "failed",
      reason: "CrashLoopBackOff: container was killed: out of memory",
      permanent: false,
    });
  });

  it("ends an evicted or deleted pod and waits on one not yet scheduled", () => {
    expect(podState(pod({ phase: "Failed", reason: "Evicted", message: "low on memory" }))).toEqual(
      { type: "ended", reason: "pod Evicted: low on memory" },
    );
    expect(podState(pod({ phase: "Running" }, { deletionTimestamp: new Date() }))).toEqual({
      type: "ended",
      reason: "pod is being deleted",
    });
    expect(podState(pod({ phase: "Pending" }))).toEqual({ type: "pending", reason: "Pending" });
  });
});

describe("exitReason", () => {
  const running = (restartCount: number, lastState?: object) =>
    pod({
      phase: "Running",
      containerStatuses: [container({ restartCount, state: { running: {} }, lastState })],
    });

  it("is undefined while the container runs without a new restart", () => {
    expect(exitReason(running(1), 1)).toBeUndefined();
  });

  it("names the exit of a container the kubelet restarted, and a pod that is gone", () => {
    expect(exitReason(running(2, { terminated: { exitCode: 1, reason: "Error" } }), 1)).toBe(
      "container exited with code 1",
    );
    expect(exitReason(undefined, 0)).toBe("pod is gone");
  });
});
