import { describe, expect, it } from "vitest";
import { type CircuitSnapshot, createCircuitBreakers } from "./circuit-breaker.js";

function setup() {
  let t = 1_000_000;
  const changes: Array<[string, CircuitSnapshot["state"]]> = [];
  const breakers = createCircuitBreakers({
    failureThreshold: 3,
    openMs: 5_000,
    maxOpenMs: 20_000,
    probeTimeoutMs: 10_000,
    now: () => t,
    onChange: (key, snapshot) => changes.push([key, snapshot.state]),
  });
  return { breakers, changes, advance: (ms: number) => (t += ms), now: () => t };
}

describe("circuit breakers", () => {
  it("opens after the threshold of consecutive failures and refuses without dialling", () => {
    const { breakers, changes, now } = setup();
    for (let i = 0; i < 2; i++) {
      expect(breakers.admit("a")).toEqual({ admitted: true, probe: false });
      breakers.failed("a", "ECONNREFUSED");
    }
    expect(breakers.snapshot("a").state).toBe("CLOSED");
    breakers.admit("a");
    breakers.failed("a", "ECONNREFUSED");
    expect(breakers.snapshot("a")).toMatchObject({
      state: "OPEN",
      consecutiveFailures: 3,
      openedAt: now(),
      lastErrorCode: "ECONNREFUSED",
    });
    const refused = breakers.admit("a");
    expect(refused).toMatchObject({ admitted: false, retryAfterMs: 5_000 });
    expect(changes).toEqual([["a", "OPEN"]]);
    // Another upstream is not affected.
    expect(breakers.admit("b")).toEqual({ admitted: true, probe: false });
  });

  it("a success in between resets the count", () => {
    const { breakers } = setup();
    breakers.failed("a", "ECONNREFUSED");
    breakers.failed("a", "ECONNREFUSED");
    breakers.succeeded("a");
    breakers.failed("a", "ECONNREFUSED");
    expect(breakers.snapshot("a")).toMatchObject({ state: "CLOSED", consecutiveFailures: 1 });
  });

  it("lets one probe through after the open time; its success closes the circuit", () => {
    const { breakers, changes, advance } = setup();
    for (let i = 0; i < 3; i++) breakers.failed("a", "ECONNREFUSED");
    advance(3_000);
    expect(breakers.admit("a")).toMatchObject({ admitted: false, retryAfterMs: 2_000 });
    advance(2_000);
    expect(breakers.admit("a")).toEqual({ admitted: true, probe: true });
    expect(breakers.snapshot("a").state).toBe("HALF_OPEN");
    // The others wait while the probe is out.
    expect(breakers.admit("a")).toMatchObject({ admitted: false });
    breakers.succeeded("a");
    expect(breakers.snapshot("a")).toMatchObject({
      state: "CLOSED",
      consecutiveFailures: 0,
      openedAt: 0,
    });
    expect(breakers.admit("a")).toEqual({ admitted: true, probe: false });
    expect(changes.map(([, state]) => state)).toEqual(["OPEN", "HALF_OPEN", "CLOSED"]);
  });

  it("a failed probe opens the circuit again for twice as long, up to the maximum", () => {
    const { breakers, advance } = setup();
    for (let i = 0; i < 3; i++) breakers.failed("a", "ECONNREFUSED");
    const openTimes: number[] = [];
    for (let round = 0; round < 4; round++) {
      const refused = breakers.admit("a");
      if (refused.admitted) throw new Error("expected the circuit open");
      openTimes.push(refused.retryAfterMs);
      advance(refused.retryAfterMs);
      expect(breakers.admit("a")).toEqual({ admitted: true, probe: true });
      breakers.failed("a", "HTTP_503");
    }
    expect(openTimes).toEqual([5_000, 10_000, 20_000, 20_000]);
    expect(breakers.snapshot("a")).toMatchObject({ state: "OPEN", lastErrorCode: "HTTP_503" });
  });

  it("a probe that never reports back does not hold the circuit half-open forever", () => {
    const { breakers, advance } = setup();
    for (let i = 0; i < 3; i++) breakers.failed("a", "ETIMEDOUT");
    advance(5_000);
    expect(breakers.admit("a")).toEqual({ admitted: true, probe: true });
    advance(9_999);
    expect(breakers.admit("a").admitted).toBe(false);
    advance(1);
    expect(breakers.admit("a")).toEqual({ admitted: true, probe: true });
  });

  it("forgets closed circuits first when it holds too many", () => {
    let t = 0;
    const breakers = createCircuitBreakers({
      failureThreshold: 1,
      openMs: 5_000,
      maxOpenMs: 5_000,
      maxKeys: 2,
      now: () => t++,
    });
    breakers.failed("open", "ECONNREFUSED");
    breakers.admit("closed-1");
    breakers.admit("closed-2");
    expect(breakers.snapshot("open").state).toBe("OPEN");
  });
});

describe("circuit breaker reset", () => {
  it("closes a re-pointed upstream's circuit and reports it", () => {
    const { breakers, changes } = setup();
    for (let i = 0; i < 3; i++) breakers.failed("a", "ECONNREFUSED");
    breakers.reset("a");
    breakers.reset("b"); // never seen: nothing to report
    expect(breakers.snapshot("a").state).toBe("CLOSED");
    expect(changes.map(([key, state]) => `${key} ${state}`)).toEqual(["a OPEN", "a CLOSED"]);
  });
});
