import { startTracing } from "@berth/platform/tracing";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Tracing must start before anything loads the pg driver, as in every service's main.ts:
// the modules that load it are imported dynamically below.
const exporter = new InMemorySpanExporter();
const tracing = startTracing({ serviceName: "berth-test", exporter });

describe("one trace across the mesh", () => {
  let cleanup: () => Promise<void> = async () => undefined;
  let gatewayUrl = "";
  let apiKey = "";
  const received: string[] = [];

  beforeAll(async () => {
    const { useEngines } = await import("@berth/testkit");
    const { connectNats, createEventListener } = await import("@berth/platform");
    const { McpServerCreatedSchema } = await import("@berth/proto/gen/berth/events/v1/events_pb");
    const { startMesh, testLogger } = await import("./support/mesh.js");
    const engines = await useEngines();
    const mesh = await startMesh(engines);
    const nc = await connectNats(engines.natsUrl, "trace-test");
    const consumer = createEventListener(
      { nc, logger: testLogger("consumer"), service: "test", name: "trace" },
      (events) =>
        events.on(McpServerCreatedSchema, (_server, { envelope }) => {
          received.push(envelope.aggregateId);
        }),
    );
    await consumer.start();
    gatewayUrl = mesh.gateway.url;
    apiKey = mesh.apiKey;
    cleanup = async () => {
      await consumer.stop();
      await nc.drain();
      await mesh.stop();
      await engines.cleanup();
    };
  });
  afterAll(async () => {
    await cleanup();
    await tracing.shutdown();
  });

  it("spans the REST call, the registry's handler and SQL, and the event's consumer", async () => {
    const response = await fetch(`${gatewayUrl}/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ name: "traced", transport: "TRANSPORT_STDIO" }),
    });
    expect(response.status).toBe(200);
    const { id } = (await response.json()) as { id: string };
    const deadline = Date.now() + 10_000;
    while (!received.includes(id) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(received).toContain(id);

    const spans = exporter.getFinishedSpans();
    const rest = spans.find((s) => s.name === "POST /v1/servers" && s.kind === SpanKind.SERVER);
    expect(rest).toBeDefined();
    const traceId = rest!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
    const ancestors = (span: ReadableSpan): string[] => {
      const names: string[] = [];
      for (
        let p = span.parentSpanContext?.spanId;
        p && byId.has(p);
        p = byId.get(p)!.parentSpanContext?.spanId
      ) {
        names.push(byId.get(p)!.name);
      }
      return names;
    };

    const handler = inTrace.find(
      (s) =>
        s.name === "berth.registry.v1.RegistryService/CreateServer" && s.kind === SpanKind.SERVER,
    );
    expect(handler && ancestors(handler)).toContain("POST /v1/servers");
    const sql = inTrace.filter(
      (s) =>
        s.attributes["db.system"] === "postgresql" ||
        s.attributes["db.system.name"] === "postgresql",
    );
    expect(sql.length).toBeGreaterThan(0);
    expect(sql.some((s) => ancestors(s).includes(handler!.name))).toBe(true);
    const consumer = inTrace.find((s) => s.kind === SpanKind.CONSUMER);
    expect(consumer).toBeDefined();
    expect(ancestors(consumer!)).toContain(handler!.name);
  });
});
