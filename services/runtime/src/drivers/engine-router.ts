import type { DockerSpec } from "../spec/types.js";
import type { EnginePlacement } from "./engine-placement.js";
import type { LogLine, ObservedWorkload, WorkloadDriver } from "./types.js";

/** A container engine's driver, closed when the runtime stops (its workloads keep running). */
export interface EngineDriver extends WorkloadDriver<DockerSpec> {
  close(): void;
  /**
   * Stops the instance's workload but keeps what makes the next ensure fast (its networks), for
   * the idle policy; an engine without it has its workload removed instead.
   */
  sleep?(instanceId: string): Promise<void>;
}

/**
 * The driver of docker json_specs: runs each instance on the engine the placement names and
 * keeps every other configured engine free of it, so a changed placement moves an instance at
 * its next start with no duplicate left behind. Removal, listing and garbage collection span
 * every configured engine.
 */
export function createEngineRouter(
  engines: ReadonlyMap<string, EngineDriver>,
  placement: EnginePlacement,
): EngineDriver {
  const all = [...engines.values()];
  const engineOf = (name: string) => {
    const engine = engines.get(name);
    if (!engine) throw new Error(`no container engine named ${name} is configured`);
    return engine;
  };
  const concat = async (call: (engine: EngineDriver) => Promise<ObservedWorkload[]>) =>
    (await Promise.all(all.map(call))).flat();

  return {
    name: "docker",
    async ensure(request) {
      const target = engineOf(placement.engineFor(request.name));
      for (const other of all) {
        if (other === target) continue;
        if ((await other.inspect(request.instanceId)).length > 0) {
          await other.remove(request.instanceId);
        }
      }
      return target.ensure(request);
    },
    async remove(instanceId) {
      for (const engine of all) await engine.remove(instanceId);
    },
    async sleep(instanceId) {
      for (const engine of all) {
        if ((await engine.inspect(instanceId)).length === 0) continue;
        await (engine.sleep ? engine.sleep(instanceId) : engine.remove(instanceId));
      }
    },
    inspect: (instanceId) => concat((engine) => engine.inspect(instanceId)),
    list: () => concat((engine) => engine.list()),
    async collectGarbage(keep) {
      let removed = 0;
      for (const engine of all) removed += await engine.collectGarbage(keep);
      return removed;
    },
    async *logs(instanceId, options): AsyncIterable<LogLine> {
      for (const engine of all) {
        if ((await engine.inspect(instanceId)).length === 0) continue;
        yield* engine.logs(instanceId, options);
        return;
      }
    },
    close() {
      for (const engine of all) engine.close();
    },
  };
}
