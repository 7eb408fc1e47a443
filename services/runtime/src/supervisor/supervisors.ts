import {
  createInstanceSupervisor,
  type InstanceSupervisor,
  type SupervisorDeps,
} from "./instance-supervisor.js";

/** Every instance's supervisor, created on first kick. */
export interface Supervisors {
  kick(instanceId: string): void;
  get(instanceId: string): InstanceSupervisor | undefined;
  closeAll(): Promise<void>;
}

/** Creates the supervisor registry; a supervisor leaves it once its workload is removed. */
export function createSupervisors(deps: SupervisorDeps): Supervisors {
  const all = new Map<string, InstanceSupervisor>();
  let closing = false;
  return {
    kick(instanceId) {
      if (closing) return;
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
    async closeAll() {
      closing = true;
      await Promise.all([...all.values()].map((s) => s.close()));
      all.clear();
    },
  };
}
