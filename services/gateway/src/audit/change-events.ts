import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ChangeFacts } from "./audit-record.js";

/** The resource an event is about and what happened to it. */
export interface ChangeSubject {
  resourceType: ChangeFacts["resourceType"];
  resourceId: string;
  resourceName: string;
  action: ChangeFacts["action"];
  changedFields?: readonly string[];
}

/**
 * The change an event announces, with the actor and revisions from its envelope. The envelope's
 * version is the revision after the change; every change adds one to it, except a catalog
 * entry's deletion (it keeps the revision it had) and a creation (nothing before).
 */
export function changeFromEvent(envelope: EventEnvelope, subject: ChangeSubject): ChangeFacts {
  const version = envelope.aggregateVersion;
  const catalogDelete = subject.resourceType === "McpServer" && subject.action === "deleted";
  return {
    id: envelope.eventId,
    time: envelope.occurredAt ? timestampDate(envelope.occurredAt) : new Date(),
    actorKeyId: envelope.actor,
    correlationId: envelope.correlationId,
    ...subject,
    revisionBefore: subject.action === "created" ? 0n : catalogDelete ? version : version - 1n,
    revisionAfter: catalogDelete ? 0n : version,
    source: envelope.source,
  };
}
