import { randomUUID } from "node:crypto";
import {
  McpServerCreatedSchema,
  McpServerDeletedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { McpServerSchema } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createEnvelope, encodeEnvelope } from "./envelope.js";
import { isPoisonEvent, PoisonEventError, poison } from "./poison.js";
import { validateEvent } from "./validate-event.js";

function created(name = "weather") {
  const id = randomUUID();
  return createEnvelope({
    schema: McpServerCreatedSchema,
    payload: create(McpServerCreatedSchema, { server: create(McpServerSchema, { id, name }) }),
    aggregateType: "McpServer",
    aggregateId: id,
    aggregateVersion: 1,
    source: "registry",
  });
}

const reasonOf = (bytes: Uint8Array): string => {
  try {
    validateEvent(bytes, McpServerCreatedSchema);
  } catch (error) {
    if (isPoisonEvent(error)) return error.reason;
    throw error;
  }
  return "valid";
};

describe("validateEvent", () => {
  it("returns the envelope and the typed payload of a well-formed event", () => {
    const envelope = created("weather");
    const event = validateEvent(encodeEnvelope(envelope), McpServerCreatedSchema);
    expect(event.envelope.eventId).toBe(envelope.eventId);
    expect(event.payload.server?.name).toBe("weather");
  });

  it("names the field that makes an event poison", () => {
    expect(reasonOf(new TextEncoder().encode("not protobuf at all"))).toMatch(/^envelope: /);
    const version = created();
    version.schemaVersion = 7;
    expect(reasonOf(encodeEnvelope(version))).toMatch(/^envelope: .*schema_version 7/);
    const eventId = created();
    eventId.eventId = "1";
    expect(reasonOf(encodeEnvelope(eventId))).toBe("event_id: not a UUID");
    const aggregate = created();
    aggregate.aggregateId = "weather";
    expect(reasonOf(encodeEnvelope(aggregate))).toBe("aggregate_id: not a UUID");
    const occurred = created();
    occurred.occurredAt = undefined;
    expect(reasonOf(encodeEnvelope(occurred))).toBe("occurred_at: missing");
    const type = created();
    type.eventType = `x\r\n${"y".repeat(200)}`;
    expect(reasonOf(encodeEnvelope(type))).toMatch(/^event_type: "x {2}y+…" is not the type/);
    const foreign = created();
    foreign.payload = anyPack(McpServerDeletedSchema, create(McpServerDeletedSchema, {}));
    expect(reasonOf(encodeEnvelope(foreign))).toBe(
      "payload: not a berth.events.v1.McpServerCreated",
    );
    const garbled = created();
    if (garbled.payload) garbled.payload.value = new Uint8Array([0xff, 0xff, 0xff]);
    expect(reasonOf(encodeEnvelope(garbled))).toBe(
      "payload: not a valid berth.events.v1.McpServerCreated",
    );
  });

  it("lets a handler refuse an event as poison with its own reason", () => {
    const refuse = () => poison("json_spec.image: required");
    expect(refuse).toThrow(PoisonEventError);
    expect(refuse).toThrow("poison event: json_spec.image: required");
    expect(isPoisonEvent(new Error("poison event: x"))).toBe(false);
  });
});
