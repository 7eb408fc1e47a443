import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { EngineUnavailableError, WorkloadStartError } from "../errors.js";
import { createSwarmDriver } from "./swarm-driver.js";

/** A Docker client whose Swarm calls all fail as the engine answers them (a unit-test fake). */
const failing = (statusCode: number, message: string) =>
  ({
    listServices: () => Promise.reject(Object.assign(new Error(message), { statusCode })),
  }) as unknown as Docker;

const driverOf = (docker: Docker) =>
  createSwarmDriver(docker, { scope: "s", extra: {} }, { guardImage: "g", guardSecret: "k" });

describe("the Swarm driver's engine errors", () => {
  it("says how to fix an engine that is in no Swarm", async () => {
    const driver = driverOf(
      failing(
        503,
        '(HTTP code 503) unexpected - This node is not a swarm manager. Use "docker swarm init"',
      ),
    );
    const error = await driver.inspect("i").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadStartError);
    expect((error as Error).message).toContain("run `docker swarm init`");
  });

  it("waits for a Swarm without a leader, as for an engine that does not answer", async () => {
    const driver = driverOf(failing(503, "(HTTP code 503) The swarm does not have a leader"));
    await expect(driver.list()).rejects.toBeInstanceOf(EngineUnavailableError);
  });
});
