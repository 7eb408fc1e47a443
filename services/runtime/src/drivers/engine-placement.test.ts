import { describe, expect, it } from "vitest";
import { parsePlacement } from "./engine-placement.js";

const KNOWN = ["docker", "swarm"];

describe("parsePlacement", () => {
  it("places every instance on the default engine without rules", () => {
    const placement = parsePlacement("swarm", undefined, KNOWN);
    expect(placement.engines).toEqual(["swarm"]);
    expect(placement.engineFor("anything")).toBe("swarm");
    expect(placement.engineFor(undefined)).toBe("swarm");
  });

  it("places by instance name, first matching rule first, the default otherwise", () => {
    const placement = parsePlacement("docker", "swarm=team-a-*,docker=team-*,swarm=*.prod", KNOWN);
    expect(placement.engines).toEqual(["docker", "swarm"]);
    expect(placement.engineFor("team-a-search")).toBe("swarm");
    expect(placement.engineFor("team-b-search")).toBe("docker");
    expect(placement.engineFor("billing.prod")).toBe("swarm");
    // "." is a literal dot, not any character.
    expect(placement.engineFor("billingXprod")).toBe("docker");
    expect(placement.engineFor("other")).toBe("docker");
  });

  it("names the variable and the known engines when an engine is unknown", () => {
    expect(() => parsePlacement("podman", undefined, KNOWN)).toThrow(
      "BERTH_RUNTIME_DOCKER_DRIVER must be one of docker, swarm: got podman",
    );
    expect(() => parsePlacement("docker", "nomad=*", KNOWN)).toThrow(
      "BERTH_RUNTIME_PLACEMENT names engine nomad; known: docker, swarm",
    );
  });
});
