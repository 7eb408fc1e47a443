import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/parse-spec.js";
import type { DockerSpec } from "../spec/types.js";
import { parsePlacement } from "./engine-placement.js";
import { createEngineRouter, type EngineDriver } from "./engine-router.js";
import type { ObservedWorkload, WorkloadHandle } from "./types.js";

/** An in-memory engine (a unit-test fake): which instances it runs. */
function fakeEngine(name: "docker" | "swarm") {
  const running = new Map<string, number>();
  const calls: string[] = [];
  const observed = (id: string): ObservedWorkload[] =>
    running.has(id)
      ? [
          {
            instanceId: id,
            generation: running.get(id)!,
            containerId: `${name}-${id}`,
            running: true,
          },
        ]
      : [];
  const engine: EngineDriver = {
    name,
    async ensure(request) {
      calls.push(`ensure ${request.instanceId}`);
      running.set(request.instanceId, request.generation);
      return { instanceId: request.instanceId, driver: name } as WorkloadHandle;
    },
    async remove(id) {
      calls.push(`remove ${id}`);
      running.delete(id);
    },
    inspect: async (id) => observed(id),
    list: async () => [...running.keys()].flatMap(observed),
    async collectGarbage(keep) {
      const gone = [...running.keys()].filter((id) => !keep.has(id));
      for (const id of gone) running.delete(id);
      return gone.length;
    },
    logs: (id) =>
      (async function* () {
        yield { line: `${name} log of ${id}`, stream: "stdout" as const };
      })(),
    close: () => calls.push("close"),
  };
  return { engine, running, calls };
}

const spec = (parseSpec({ type: "docker", image: "img:1" }) as { spec: DockerSpec }).spec;

describe("createEngineRouter", () => {
  const setup = (rules?: string) => {
    const docker = fakeEngine("docker");
    const swarm = fakeEngine("swarm");
    const router = createEngineRouter(
      new Map([
        ["docker", docker.engine],
        ["swarm", swarm.engine],
      ]),
      parsePlacement("docker", rules, ["docker", "swarm"]),
    );
    return { docker, swarm, router };
  };

  it("runs each instance on its placed engine and moves it without leaving a copy behind", async () => {
    const { docker, swarm, router } = setup("swarm=prod-*");
    const handle = await router.ensure({ instanceId: "a", generation: 1, name: "prod-a", spec });
    expect(handle.driver).toBe("swarm");
    await router.ensure({ instanceId: "b", generation: 1, name: "dev-b", spec });
    expect([...swarm.running.keys()]).toEqual(["a"]);
    expect([...docker.running.keys()]).toEqual(["b"]);
    expect((await router.list()).map((w) => w.instanceId).sort()).toEqual(["a", "b"]);

    // Renamed out of the rule's reach: the next start runs it on docker, and swarm lets it go.
    await router.ensure({ instanceId: "a", generation: 2, name: "dev-a", spec });
    expect([...swarm.running.keys()]).toEqual([]);
    expect(docker.running.get("a")).toBe(2);
    expect(swarm.calls).toContain("remove a");
    // An engine that never ran the instance is not asked to remove it.
    expect(docker.calls).not.toContain("remove b");
  });

  it("removes, inspects, collects and reads logs across every engine", async () => {
    const { docker, swarm, router } = setup("swarm=prod-*");
    await router.ensure({ instanceId: "a", generation: 1, name: "prod-a", spec });
    await router.ensure({ instanceId: "b", generation: 1, name: "dev-b", spec });
    expect(await router.inspect("a")).toHaveLength(1);
    const lines = [];
    for await (const line of router.logs("a", {
      follow: false,
      tailLines: 10,
      signal: new AbortController().signal,
    })) {
      lines.push(line.line);
    }
    expect(lines).toEqual(["swarm log of a"]);
    expect(await router.collectGarbage(new Set(["b"]))).toBe(1);
    expect([...swarm.running.keys()]).toEqual([]);
    // The idle policy's sleep reaches the engine that runs the instance (remove without sleep).
    await router.sleep!("b");
    expect(docker.running.size).toBe(0);
    expect(docker.calls).toContain("remove b");
    router.close();
    expect(docker.calls.at(-1)).toBe("close");
    expect(swarm.calls.at(-1)).toBe("close");
  });
});
