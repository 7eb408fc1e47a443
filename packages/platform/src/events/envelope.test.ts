import {
  EventEnvelopeSchema,
  type McpServerCreated,
  McpServerCreatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { McpServerSchema } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { withCorrelationId } from "../context/request-context.js";
import {
  createEnvelope,
  decodeEnvelope,
  EnvelopeError,
  encodeEnvelope,
  unpackPayload,
} from "./envelope.js";

const payload = create(McpServerCreatedSchema, {
  server: create(McpServerSchema, { id: "s-1", name: "weather", tags: ["a"] }),
});
const options = {
  schema: McpServerCreatedSchema,
  payload,
  aggregateType: "McpServer",
  aggregateId: "s-1",
  aggregateVersion: 3,
  source: "registry",
};

describe("event envelope", () => {
  it("fills id, type, version, time and the current correlation id", () => {
    const envelope = withCorrelationId("corr-1", () => createEnvelope(options));
    expect(envelope.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(envelope.schemaVersion).toBe(1);
    expect(envelope.eventType).toBe("berth.events.v1.McpServerCreated");
    expect(envelope.aggregateVersion).toBe(3n);
    expect(envelope.correlationId).toBe("corr-1");
    const seconds = Number(envelope.occurredAt?.seconds);
    expect(Math.abs(seconds - Date.now() / 1000)).toBeLessThan(5);
    expect(createEnvelope(options).eventId).not.toBe(envelope.eventId);
  });

  it("survives encode and decode, payload included", () => {
    const envelope = createEnvelope({ ...options, correlationId: "given" });
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    expect(decoded.eventId).toBe(envelope.eventId);
    expect(decoded.correlationId).toBe("given");
    const unpacked = unpackPayload(decoded) as McpServerCreated;
    expect(unpacked.$typeName).toBe("berth.events.v1.McpServerCreated");
    expect(unpacked.server?.name).toBe("weather");
    expect(unpacked.server?.tags).toEqual(["a"]);
  });

  it("refuses an envelope of an unknown schema version, clearly", () => {
    const future = createEnvelope(options);
    future.schemaVersion = 2;
    expect(() => decodeEnvelope(encodeEnvelope(future))).toThrow(EnvelopeError);
    expect(() => decodeEnvelope(encodeEnvelope(future))).toThrow(
      "event envelope schema_version 2 is not supported (this build reads 1)",
    );
  });

  it("refuses bytes that are not an envelope and payloads of unknown types", () => {
    expect(() => decodeEnvelope(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(EnvelopeError);
    const unknown = create(EventEnvelopeSchema, {
      schemaVersion: 1,
      payload: { typeUrl: "type.googleapis.com/acme.Unknown", value: new Uint8Array() },
    });
    const decoded = decodeEnvelope(toBinary(EventEnvelopeSchema, unknown));
    expect(() => unpackPayload(decoded)).toThrow(
      'event payload type "type.googleapis.com/acme.Unknown" is unknown',
    );
  });
});
