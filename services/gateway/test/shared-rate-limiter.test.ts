import { randomUUID } from "node:crypto";
import { connectNats, createLogger } from "@berth/platform";
import { useEngines } from "@berth/testkit";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimiter, type RateDecision } from "../src/auth/rate-limiter.js";
import { createSharedRateLimiter, leaseSize } from "../src/replicas/shared-rate-limiter.js";

// Two limiters on two NATS connections: two gateway replicas' view of one shared bucket. The
// clock is frozen, so that no token refills while the test runs, however slow the machine.
describe("shared rate limits with leased tokens (real NATS JetStream)", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  const connections: NatsConnection[] = [];
  const logger = createLogger({ service: "gateway", level: "silent" });
  const frozen = () => 1_000_000;

  beforeAll(async () => {
    engines = await useEngines();
    for (const name of ["replica-a", "replica-b"]) {
      connections.push(await connectNats(engines.natsUrl, name));
    }
  });
  afterAll(async () => {
    for (const nc of connections) await nc.close();
    await engines?.cleanup();
  });

  const replicas = (deployment: string) =>
    connections.map((nc) =>
      createSharedRateLimiter({
        nc,
        logger,
        scope: "key",
        deployment,
        local: createRateLimiter(frozen),
        timeoutMs: 20_000,
        now: frozen,
      }),
    );

  it("answers most calls of a fast key without a round trip, and never exceeds the shared burst", async () => {
    const [a, b] = replicas(randomUUID());
    // 1,000/s with a burst of 100: leases of 25 tokens.
    const rate = 1_000;
    const burst = 100;
    expect(leaseSize(rate, burst)).toBe(25);
    let immediate = 0;
    const decisions: RateDecision[] = [];
    for (let i = 0; i < 300; i++) {
      const answer = (i % 2 === 0 ? a! : b!).take("busy-key", rate, burst);
      if (!(answer instanceof Promise)) immediate += 1;
      decisions.push(await answer);
    }
    // Every token of the shared bucket was spent by one replica or the other, none twice.
    expect(decisions.filter((d) => d.ok)).toHaveLength(burst);
    expect(decisions.slice(-20).every((d) => !d.ok)).toBe(true);
    // Leased tokens are spent without asking NATS: most allowed calls did not wait for it.
    expect(immediate, "calls answered from a lease").toBeGreaterThan(burst / 2);
    for (const limiter of [a!, b!]) limiter.stop();
  });

  it("leases nothing for a slow key: every take is decided by the shared bucket", async () => {
    const [a, b] = replicas(randomUUID());
    expect(leaseSize(0.001, 10)).toBe(1);
    const statuses: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const answer = (i % 2 === 0 ? a! : b!).take("slow-key", 0.001, 10);
      expect(answer, "a slow key's take waits for the store").toBeInstanceOf(Promise);
      statuses.push((await answer).ok);
    }
    expect(statuses.slice(0, 10).every(Boolean)).toBe(true);
    expect(statuses.slice(10).some(Boolean)).toBe(false);
    for (const limiter of [a!, b!]) limiter.stop();
  });
});
