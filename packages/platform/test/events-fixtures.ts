import { randomUUID } from "node:crypto";
import type { EventEnvelope } from "@berth/proto/gen/berth/events/v1/events_pb";
import { McpServerCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { McpServerSchema } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import { createEnvelope } from "../src/events/envelope.js";

/** A McpServerCreated envelope for a fresh server id (subject berth.registry.server.created). */
export function serverCreated(name: string, description = "", id = randomUUID()): EventEnvelope {
  return createEnvelope({
    schema: McpServerCreatedSchema,
    payload: create(McpServerCreatedSchema, {
      server: create(McpServerSchema, { id, name, description }),
    }),
    aggregateType: "McpServer",
    aggregateId: id,
    aggregateVersion: 1,
    source: "registry",
  });
}
