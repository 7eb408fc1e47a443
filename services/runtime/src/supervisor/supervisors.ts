import {
  createInstanceSupervisor,
  type InstanceSupervisor,
  type SupervisorDeps,
} from "./instance-supervisor.js";

/** Every instance's supervisor, created on first kick. */
export interface Supervisors {
  /** Converges the instance, when this runtime owns it (deps.owns); otherwise does nothing. */
  kick(instanceId: string): void;
  /**
   * Stops supervising an instance this runtime no longer owns: local activity ends (probe,
   * bridge attachment), the workload is left to its new owner.
   */
  release(instanceId: string): Promise<void>;
  get(instanceId: string): InstanceSupervisor | undefined;
  closeAll(): Promise<void>;
}

/** Creates the supervisor registry; a supervisor leaves it once its workload is removed. */
export function createSupervisors(deps: SupervisorDeps): Supervisors {
  const all = new Map<string, InstanceSupervisor>();
  let closing = false;
  return {
    kick(instanceId) {
      if (closing || (deps.owns && !deps.owns(instanceId))) return;
      let supervisor = all.get(instanceId);
      if (!supervisor) {
        const created = createInstanceSupervisor(instanceId, deps, () => {
          if (all.get(instanceId) === created) all.delete(instanceId);
        });
        supervisor = created;
        all.set(instanceId, created);
      }
      supervisor.kick();
    },
    get: (instanceId) => all.get(instanceId),
    async release(instanceId) {
      const supervisor = all.get(instanceId);
      if (!supervisor) return;
      all.delete(instanceId);
      await supervisor.close();
    },
    async closeAll() {
      closing = true;
      await Promise.all([...all.values()].map((s) => s.close()));
      all.clear();
    },
  };
}
