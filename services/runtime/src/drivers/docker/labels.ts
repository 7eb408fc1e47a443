/** Label keys Berth puts on what it creates; values never hold secrets. */
export const LABELS = {
  managed: "berth.managed",
  instance: "berth.instance",
  generation: "berth.generation",
  scope: "berth.scope",
  /** "guard" on an HTTP server's port guard; absent on the server's own container. */
  role: "berth.role",
} as const;

/** Identity of what one runtime creates on a Docker engine. */
export interface LabelContext {
  /** Which runtime (database) owns the objects: reconciliation touches only its own scope. */
  scope: string;
  /** Extra labels (for example a test run id). */
  extra: Record<string, string>;
  /**
   * The berth.managed value, "true" unless set: each driver on the same engine has its own
   * ("swarm" for the Swarm driver), so none lists, adopts or collects another's objects.
   */
  managed?: string;
}

/** The labels of an instance's container or network. */
export function workloadLabels(
  context: LabelContext,
  instanceId: string,
  generation?: number,
): Record<string, string> {
  return {
    ...context.extra,
    [LABELS.managed]: context.managed ?? "true",
    [LABELS.scope]: context.scope,
    [LABELS.instance]: instanceId,
    ...(generation === undefined ? {} : { [LABELS.generation]: String(generation) }),
  };
}

/** Docker list filters for this scope, optionally one instance. */
export function scopeFilters(context: LabelContext, instanceId?: string): { label: string[] } {
  const label = [
    `${LABELS.managed}=${context.managed ?? "true"}`,
    `${LABELS.scope}=${context.scope}`,
  ];
  if (instanceId) label.push(`${LABELS.instance}=${instanceId}`);
  return { label };
}

/** The object names of an instance: container per generation, one network per instance. */
export function containerName(instanceId: string, generation: number): string {
  return `berth-${instanceId}-g${generation}`;
}

/** The name of an instance's own network (internal for HTTP servers without egress). */
export function networkName(instanceId: string): string {
  return `berth-${instanceId}`;
}

/** The network on which an HTTP server's port guard publishes its port. */
export function edgeNetworkName(instanceId: string): string {
  return `berth-${instanceId}-edge`;
}

/** The port guard's container of an instance's generation. */
export function guardName(instanceId: string, generation: number): string {
  return `${containerName(instanceId, generation)}-guard`;
}
