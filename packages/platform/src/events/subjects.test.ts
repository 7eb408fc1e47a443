import { file_berth_events_v1_events } from "@berth/proto/gen/berth/events/v1/events_pb";
import { describe, expect, it } from "vitest";
import { streamConfig } from "./streams.js";
import { subjectMatches } from "./subject-match.js";
import {
  deadLetterSubject,
  EVENT_ROUTES,
  eventTypeOfSubject,
  filterSubjectOf,
  routeFor,
  subjectFor,
} from "./subjects.js";

describe("event subjects", () => {
  const eventTypes = file_berth_events_v1_events.messages
    .map((message) => message.typeName)
    .filter((name) => name !== "berth.events.v1.EventEnvelope");

  it("routes every event message of events.proto, and nothing else", () => {
    expect(Object.keys(EVENT_ROUTES).sort()).toEqual([...eventTypes].sort());
  });

  it("names subjects berth.<service>.<aggregate>.<event>, inside the stream of that service", () => {
    for (const type of eventTypes) {
      const { subject, stream } = routeFor(type);
      expect(subject).toMatch(/^berth\.(registry|instances|runtime|gateway)\.[a-z_]+\.[a-z_]+$/);
      const filters = streamConfig(stream).subjects ?? [];
      expect(filters.some((filter) => subjectMatches(filter, subject))).toBe(true);
    }
  });

  it("gives the documented subjects", () => {
    expect(subjectFor("berth.events.v1.McpServerCreated")).toBe("berth.registry.server.created");
    expect(subjectFor("berth.events.v1.McpServerInstanceStopped")).toBe(
      "berth.instances.instance.stopped",
    );
    expect(routeFor("berth.events.v1.McpServerInstanceStatusChanged")).toEqual({
      subject: "berth.runtime.instance.status_changed",
      stream: "BERTH_RUNTIME",
    });
  });

  it("refuses an unknown event type", () => {
    expect(() => subjectFor("berth.events.v1.Nope")).toThrow(
      'no subject is defined for event type "berth.events.v1.Nope"',
    );
  });

  it("matches NATS wildcards", () => {
    expect(subjectMatches("berth.registry.>", "berth.registry.server.created")).toBe(true);
    expect(subjectMatches("berth.registry.>", "berth.registry")).toBe(false);
    expect(subjectMatches("berth.*.server.created", "berth.registry.server.created")).toBe(true);
    expect(subjectMatches("berth.registry.server.*", "berth.registry.server")).toBe(false);
    expect(subjectMatches("berth.registry.server.*", "berth.registry.server.a.b")).toBe(false);
  });

  it("finds the event type a subject carries, and nothing for other subjects", () => {
    for (const type of eventTypes) expect(eventTypeOfSubject(subjectFor(type))).toBe(type);
    expect(eventTypeOfSubject("berth.instances.instance.renamed")).toBeUndefined();
  });

  it("covers the subjects of a consumer's handlers with one filter", () => {
    const created = subjectFor("berth.events.v1.McpServerInstanceCreated");
    const deleted = subjectFor("berth.events.v1.McpServerInstanceDeleted");
    expect(filterSubjectOf([created])).toBe(created);
    expect(filterSubjectOf([created, created])).toBe(created);
    expect(filterSubjectOf([created, deleted])).toBe("berth.instances.instance.>");
    expect(filterSubjectOf(["berth.a.b", "berth.c.d"])).toBe("berth.>");
    expect(() => filterSubjectOf([])).toThrow("at least one subject");
  });

  it("puts dead letters under berth.dlq.<service>.<consumer>, inside the DLQ stream", () => {
    expect(deadLetterSubject("runtime", "instances")).toBe("berth.dlq.runtime.instances");
    expect(streamConfig("BERTH_DLQ").subjects).toEqual(["berth.dlq.>"]);
  });
});
