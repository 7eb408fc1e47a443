import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createRetryTracker, isDependencyOutage } from "./retry-policy.js";

const policy = { maxDeliver: 3, retryDelayMs: 500, outageRetryMs: 1_000 };
const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
  code: "ECONNREFUSED",
});
const broken = new Error("column does not exist");

describe("retry policy", () => {
  it("tells dependency outages from failures of the event", () => {
    expect(isDependencyOutage(refused)).toBe(true);
    expect(isDependencyOutage(new ConnectError("away", Code.Unavailable))).toBe(true);
    expect(isDependencyOutage(new ConnectError("bad", Code.InvalidArgument))).toBe(false);
    expect(isDependencyOutage(broken)).toBe(false);
  });

  it("retries at a steady pace through an outage of any length, never giving the event up", () => {
    const tracker = createRetryTracker(policy);
    for (let delivery = 1; delivery <= 200; delivery++) {
      expect(tracker.judge(7, delivery, refused)).toEqual({
        action: "retry",
        delayMs: 1_000,
        outage: true,
      });
    }
  });

  it("doubles the delay of an event's own failures and gives it up after maxDeliver of them", () => {
    const tracker = createRetryTracker(policy);
    // Two outage deliveries first: they do not count towards the event's failures.
    tracker.judge(9, 1, refused);
    tracker.judge(9, 2, refused);
    expect(tracker.judge(9, 3, broken)).toEqual({ action: "retry", delayMs: 500, outage: false });
    expect(tracker.judge(9, 4, broken)).toEqual({ action: "retry", delayMs: 1_000, outage: false });
    expect(tracker.judge(9, 5, broken)).toEqual({ action: "give-up", failures: 3 });
  });

  it("forgets a settled event", () => {
    const tracker = createRetryTracker(policy);
    tracker.judge(4, 1, refused);
    tracker.settled(4);
    // Same sequence seen again (e.g. replayed): its deliveries count from JetStream's number.
    expect(tracker.judge(4, 3, broken)).toEqual({ action: "give-up", failures: 3 });
  });
});
