import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { CONTAINER_NAME } from "./kubernetes-objects.js";

/** Why a container waits in a way that waiting longer cannot fix: the image is not to be had. */
const IMAGE_FAILURES = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
]);

/** Waiting reasons that mean the container ran and ended, or cannot be made from its config. */
const START_FAILURES = new Set([
  "CrashLoopBackOff",
  "CreateContainerConfigError",
  "RunContainerError",
]);

/** What a pod's status says about the instance's container. */
export type PodState =
  | { type: "running"; restarts: number }
  | { type: "pending"; reason: string }
  | { type: "failed"; reason: string; permanent: boolean }
  | { type: "ended"; reason: string };

/** The status of the instance's container in a pod, or undefined before the kubelet reports. */
function containerStatus(pod: V1Pod) {
  return pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
}

/** A terminated container's reason as a person reads it (OOMKilled, exit codes). */
function terminated(state: { exitCode: number; reason?: string; message?: string }): string {
  if (state.reason === "OOMKilled") return "container was killed: out of memory";
  const why = state.reason && state.reason !== "Error" ? ` (${state.reason})` : "";
  return `container exited with code ${state.exitCode}${why}`;
}

/**
 * Reads a pod's phase, conditions and container state: running, still starting (with the
 * scheduler's or kubelet's reason), failed to start (permanent when the image cannot be pulled),
 * or ended (deleted, evicted, exited).
 */
export function podState(pod: V1Pod): PodState {
  if (pod.metadata?.deletionTimestamp) return { type: "ended", reason: "pod is being deleted" };
  const phase = pod.status?.phase;
  if (phase === "Failed" || phase === "Succeeded") {
    const reason = pod.status?.reason ?? phase.toLowerCase();
    const message = pod.status?.message ? `: ${pod.status.message}` : "";
    return { type: "ended", reason: `pod ${reason}${message}`.slice(0, 300) };
  }
  const status = containerStatus(pod);
  if (status?.state?.running) return { type: "running", restarts: status.restartCount ?? 0 };
  const waiting = status?.state?.waiting;
  if (waiting?.reason && IMAGE_FAILURES.has(waiting.reason)) {
    return {
      type: "failed",
      reason:
        `image ${status?.image ?? ""} cannot be pulled by the cluster (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""})`.slice(
          0,
          400,
        ),
      permanent: true,
    };
  }
  const last = status?.state?.terminated ?? status?.lastState?.terminated;
  if (waiting?.reason && START_FAILURES.has(waiting.reason)) {
    const detail = last ? terminated(last) : (waiting.message ?? "");
    return {
      type: "failed",
      reason: `${waiting.reason}${detail ? `: ${detail}` : ""}`.slice(0, 400),
      permanent: false,
    };
  }
  if (status?.state?.terminated) {
    return { type: "failed", reason: terminated(status.state.terminated), permanent: false };
  }
  const unscheduled = pod.status?.conditions?.find(
    (c) => c.type === "PodScheduled" && c.status === "False",
  );
  if (unscheduled) {
    return {
      type: "pending",
      reason: `not scheduled: ${unscheduled.message ?? unscheduled.reason ?? "no reason given"}`,
    };
  }
  return { type: "pending", reason: waiting?.reason ?? phase ?? "pod not yet reported" };
}

/**
 * Why a running container the runtime watches has ended, or undefined while it still runs: the
 * pod is gone or going, or the container restarted (the kubelet restarts in place; Berth counts
 * that as a crash and applies its own policy).
 */
export function exitReason(pod: V1Pod | undefined, restartsAtStart: number): string | undefined {
  if (!pod) return "pod is gone";
  const state = podState(pod);
  if (state.type === "ended") return state.reason;
  const status = containerStatus(pod);
  if ((status?.restartCount ?? 0) > restartsAtStart) {
    const last = status?.lastState?.terminated;
    return last ? terminated(last) : "container restarted";
  }
  if (state.type === "failed") return state.reason;
  return undefined;
}

/** Whether a Deployment's conditions say its replica is available (Available=True). */
export function deploymentAvailable(deployment: V1Deployment): boolean {
  const available = deployment.status?.conditions?.find((c) => c.type === "Available");
  return available?.status === "True" && (deployment.status?.availableReplicas ?? 0) >= 1;
}
