/** Names of the JetStream streams: one per producing service. */
export const STREAMS = {
  registry: "BERTH_REGISTRY",
  instances: "BERTH_INSTANCES",
  runtime: "BERTH_RUNTIME",
  gateway: "BERTH_GATEWAY",
} as const;

/** The stream of events a consumer refused: subjects `berth.dlq.<service>.<consumer>`. */
export const DEAD_LETTER_STREAM = "BERTH_DLQ";

/** A stream name (BERTH_REGISTRY, BERTH_INSTANCES, BERTH_RUNTIME, BERTH_GATEWAY, BERTH_DLQ). */
export type StreamName = (typeof STREAMS)[keyof typeof STREAMS] | typeof DEAD_LETTER_STREAM;

/** The producers' streams. */
export type EventStreamName = (typeof STREAMS)[keyof typeof STREAMS];

/** Where one event type is published: `berth.<service>.<aggregate>.<event>` in its producer's stream. */
export interface EventRoute {
  subject: string;
  stream: EventStreamName;
}

/** Every event message of berth/events/v1/events.proto, by fully-qualified type name. */
export const EVENT_ROUTES: Readonly<Record<string, EventRoute>> = {
  "berth.events.v1.McpServerCreated": route("registry", "server.created"),
  "berth.events.v1.McpServerUpdated": route("registry", "server.updated"),
  "berth.events.v1.McpServerDeleted": route("registry", "server.deleted"),
  "berth.events.v1.McpServerInstanceCreated": route("instances", "instance.created"),
  "berth.events.v1.McpServerInstanceUpdated": route("instances", "instance.updated"),
  "berth.events.v1.McpServerInstanceDeleted": route("instances", "instance.deleted"),
  "berth.events.v1.McpServerInstanceStarted": route("instances", "instance.started"),
  "berth.events.v1.McpServerInstanceStopped": route("instances", "instance.stopped"),
  // The runtime observes and reports status, so the event is the runtime's (instances consumes it).
  "berth.events.v1.McpServerInstanceStatusChanged": route("runtime", "instance.status_changed"),
  // The runtime's idle policy stopped a workload or an MCP request woke it (the audit trail).
  "berth.events.v1.McpServerInstanceIdleChanged": route("runtime", "instance.idle_changed"),
  // The gateway sees calls to upstreams fail; instances records it on the instance.
  "berth.events.v1.McpUpstreamCircuitChanged": route("gateway", "upstream.circuit_changed"),
};

function route(service: keyof typeof STREAMS, event: string): EventRoute {
  return { subject: `berth.${service}.${event}`, stream: STREAMS[service] };
}

/** The route of an event type name (e.g. berth.events.v1.McpServerCreated); throws when unknown. */
export function routeFor(eventTypeName: string): EventRoute {
  const found = EVENT_ROUTES[eventTypeName];
  if (!found) throw new Error(`no subject is defined for event type "${eventTypeName}"`);
  return found;
}

/** The subject of an event type name, e.g. berth.registry.server.created; throws when unknown. */
export function subjectFor(eventTypeName: string): string {
  return routeFor(eventTypeName).subject;
}

/** The event type name a subject carries (the reverse of subjectFor), or undefined. */
export function eventTypeOfSubject(subject: string): string | undefined {
  for (const [typeName, found] of Object.entries(EVENT_ROUTES)) {
    if (found.subject === subject) return typeName;
  }
  return undefined;
}

/**
 * One filter subject covering the given subjects: the subject itself, or their common tokens
 * followed by `>`. One filter, because several need NATS 2.10 and Debian ships 2.9.
 */
export function filterSubjectOf(subjects: readonly string[]): string {
  const [first, ...rest] = subjects.map((subject) => subject.split("."));
  if (!first) throw new Error("a filter needs at least one subject");
  if (rest.every((tokens) => tokens.join(".") === first.join("."))) return first.join(".");
  let common = 0;
  while (common < first.length && rest.every((tokens) => tokens[common] === first[common])) {
    common++;
  }
  return [...first.slice(0, common), ">"].join(".");
}

/** The dead-letter subject of one consumer: berth.dlq.<service>.<consumer>. */
export function deadLetterSubject(service: string, consumer: string): string {
  return `berth.dlq.${service}.${consumer}`;
}
