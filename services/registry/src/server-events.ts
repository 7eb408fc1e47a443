import { createEnvelope, currentCorrelationId } from "@berth/platform";
import {
  type EventEnvelope,
  McpServerCreatedSchema,
  McpServerDeletedSchema,
  McpServerUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import type { McpServer } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";

const common = (id: string, version: bigint) => ({
  aggregateType: "McpServer",
  aggregateId: id,
  aggregateVersion: version,
  source: "registry",
  correlationId: currentCorrelationId(),
});

/** McpServerCreated for a new entry. */
export function serverCreated(server: McpServer): EventEnvelope {
  return createEnvelope({
    schema: McpServerCreatedSchema,
    payload: create(McpServerCreatedSchema, { server }),
    ...common(server.id, server.revision),
  });
}

/** McpServerUpdated with the entry after the change and the proto names of the changed fields. */
export function serverUpdated(server: McpServer, changedFields: string[]): EventEnvelope {
  return createEnvelope({
    schema: McpServerUpdatedSchema,
    payload: create(McpServerUpdatedSchema, { server, changedFields }),
    ...common(server.id, server.revision),
  });
}

/** McpServerDeleted; the version is the revision the entry had when it was deleted. */
export function serverDeleted(id: string, name: string, revision: bigint): EventEnvelope {
  return createEnvelope({
    schema: McpServerDeletedSchema,
    payload: create(McpServerDeletedSchema, { serverId: id, name }),
    ...common(id, revision),
  });
}
