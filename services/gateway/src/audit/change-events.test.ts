import { createEnvelope } from "@berth/platform";
import {
  McpServerDeletedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { changeFromEvent } from "./change-events.js";

describe("changeFromEvent", () => {
  it("takes the actor, correlation id and revisions from the envelope", () => {
    const envelope = createEnvelope({
      schema: McpServerInstanceUpdatedSchema,
      payload: create(McpServerInstanceUpdatedSchema, {}),
      aggregateType: "McpServerInstance",
      aggregateId: "0b8f5a52-3c8e-4d43-a7f6-9a0f0c6b1d2e",
      aggregateVersion: 4,
      source: "instances",
      correlationId: "corr-1",
      actor: "0123456789abcdef",
    });
    const facts = changeFromEvent(envelope, {
      resourceType: "McpServerInstance",
      resourceId: envelope.aggregateId,
      resourceName: "one",
      action: "updated",
      changedFields: ["description"],
    });
    expect(facts).toMatchObject({
      id: envelope.eventId,
      actorKeyId: "0123456789abcdef",
      correlationId: "corr-1",
      revisionBefore: 3n,
      revisionAfter: 4n,
      source: "instances",
      changedFields: ["description"],
    });
  });

  it("counts a creation from nothing and a catalog entry's deletion to nothing", () => {
    const deleted = createEnvelope({
      schema: McpServerDeletedSchema,
      payload: create(McpServerDeletedSchema, {}),
      aggregateType: "McpServer",
      aggregateId: "0b8f5a52-3c8e-4d43-a7f6-9a0f0c6b1d2e",
      aggregateVersion: 5,
      source: "registry",
    });
    const subject = { resourceType: "McpServer", resourceId: "x", resourceName: "x" } as const;
    expect(changeFromEvent(deleted, { ...subject, action: "deleted" })).toMatchObject({
      revisionBefore: 5n,
      revisionAfter: 0n,
      actorKeyId: "",
    });
    expect(changeFromEvent(deleted, { ...subject, action: "created" })).toMatchObject({
      revisionBefore: 0n,
      revisionAfter: 5n,
    });
  });
});
