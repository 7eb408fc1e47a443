import { describe, expect, it } from "vitest";
import { parseMemory, parseSpec } from "./parse-spec.js";

describe("parseSpec", () => {
  it("reads a docker spec with defaults for what is absent", () => {
    const parsed = parseSpec({ type: "docker", image: "berth/echo:1" });
    expect(parsed).toEqual({
      ok: true,
      spec: {
        type: "docker",
        image: "berth/echo:1",
        transport: "stdio",
        port: undefined,
        path: "/mcp",
        command: undefined,
        args: undefined,
        environment: {},
        resources: { memoryBytes: 512 * 1024 ** 2, nanoCpus: 1e9, pidsLimit: 256 },
        user: undefined,
        health: { intervalMs: 30_000, timeoutMs: 10_000 },
      },
    });
  });

  it("reads limits, transport spellings, environment scalars and health", () => {
    const parsed = parseSpec({
      type: "docker",
      image: "x",
      transport: "TRANSPORT_STREAMABLE_HTTP",
      port: "8080",
      environment: { DEBUG: true, N: 3, KEY: "secret_ref:i:KEY" },
      resources: { memory_limit: "256m", cpu_limit: "0.5", pids_limit: 64 },
      health_check: { interval: 5, timeout: 2 },
    });
    expect(parsed.ok && parsed.spec).toMatchObject({
      transport: "http",
      port: 8080,
      environment: { DEBUG: "true", N: "3", KEY: "secret_ref:i:KEY" },
      resources: { memoryBytes: 256 * 1024 ** 2, nanoCpus: 5e8, pidsLimit: 64 },
      health: { intervalMs: 5000, timeoutMs: 2000 },
    });
  });

  it("reads a url spec with a bearer token", () => {
    const parsed = parseSpec({
      type: "url",
      endpoint: "https://mcp.example.com/mcp",
      authentication: { type: "bearer", token: "secret_ref:i:TOKEN" },
    });
    expect(parsed.ok && parsed.spec).toMatchObject({
      type: "url",
      endpoint: "https://mcp.example.com/mcp",
      headers: {},
      bearerToken: "secret_ref:i:TOKEN",
    });
  });

  it("names every bad field", () => {
    const parsed = parseSpec({
      type: "docker",
      transport: "sse",
      resources: { memory_limit: "lots" },
    });
    expect(parsed.ok).toBe(false);
    const message = parsed.ok ? "" : parsed.message;
    expect(message).toContain("json_spec.image is required");
    expect(message).toContain("json_spec.transport must be stdio or http");
    expect(message).toContain("json_spec.resources.memory_limit must be like 256m or 1g");
    expect(parseSpec({ type: "podman" })).toMatchObject({ ok: false });
    expect(parseSpec({ type: "url", endpoint: "ftp://x" })).toMatchObject({
      ok: false,
      message: expect.stringContaining("json_spec.endpoint must be an http(s) URL"),
    });
  });
});

describe("parseMemory", () => {
  it("reads units and refuses nonsense", () => {
    expect(parseMemory("1g")).toBe(1024 ** 3);
    expect(parseMemory("512Mi")).toBe(512 * 1024 ** 2);
    expect(parseMemory(1000)).toBe(1000);
    expect(parseMemory("-1m")).toBeUndefined();
    expect(parseMemory("many")).toBeUndefined();
  });
});
