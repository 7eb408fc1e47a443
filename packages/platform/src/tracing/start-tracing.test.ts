import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { startTracing, tracingExports } from "./start-tracing.js";

describe("tracingExports", () => {
  it("says whether spans go anywhere, so hot paths make none when they do not", async () => {
    expect(tracingExports()).toBe(false);
    const silent = startTracing({ serviceName: "t" });
    expect(tracingExports()).toBe(false);
    await silent.shutdown();
    const exporting = startTracing({ serviceName: "t", exporter: new InMemorySpanExporter() });
    expect(tracingExports()).toBe(true);
    await exporting.shutdown();
    expect(tracingExports()).toBe(false);
  });
});
