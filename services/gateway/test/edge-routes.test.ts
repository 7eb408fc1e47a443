import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { useEngines } from "@berth/testkit";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApi } from "../src/openapi/build-openapi.js";
import { loadOpenApi } from "../src/openapi/openapi-routes.js";
import { OPENAPI_INFO, PUBLIC_SERVICES } from "../src/openapi/public-services.js";
import { type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";

const ROOT = join(import.meta.dirname, "../../..");

describe("the gateway's own routes: OpenAPI, docs, health, CORS", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines, {
      services: ["registry"],
      env: { CORS_ORIGINS: "https://console.example.com" },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  it("serves the committed OpenAPI document, current with the protos", async () => {
    const response = await fetch(`${mesh.gateway.url}/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { "x-berth-scope"?: string; parameters?: Array<{ name: string; in: string }> }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/v1/servers"]?.post?.["x-berth-scope"]).toBe("write");
    expect(doc.paths["/v1/servers"]?.get?.["x-berth-scope"]).toBe("read");
    expect(doc.paths["/v1/apiKeys"]?.get?.["x-berth-scope"]).toBe("admin");
    expect(doc.paths["/v1/instances/{id}:start"]?.post).toBeDefined();
    expect(doc.paths["/v1/servers"]?.get?.parameters?.map((p) => p.name)).toContain("page_size");
    expect(doc.paths["/mcp/{instance}"]).toBeDefined();

    // The same as generating it now from a buf image of the protos (npm run generate writes it).
    const image = execFileSync(join(ROOT, "node_modules/.bin/buf"), ["build", "-o", "-"], {
      cwd: ROOT,
      maxBuffer: 64 << 20,
    });
    const files = createFileRegistry(fromBinary(FileDescriptorSetSchema, new Uint8Array(image)));
    const fresh = buildOpenApi(
      PUBLIC_SERVICES.map((s) => files.getService(s.typeName)!),
      OPENAPI_INFO,
    );
    expect(loadOpenApi()).toEqual(JSON.parse(JSON.stringify(fresh)));
  });

  it("is alive on /healthz and ready on /readyz only when everything answers", async () => {
    expect(await (await fetch(`${mesh.gateway.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${mesh.gateway.url}/readyz`);
    expect(ready.status).toBe(503); // Instances and runtime are not running in this mesh.
    expect(await ready.json()).toEqual({
      status: "not ready",
      services: {
        "berth.registry.v1.RegistryService": "SERVING",
        "berth.instances.v1.InstancesService": "NOT_SERVING",
        "berth.runtime.v1.RuntimeService": "NOT_SERVING",
        nats: "SERVING",
        database: "SERVING",
      },
    });
  });

  it("answers CORS preflights for allowed origins only, and marks responses", async () => {
    const preflight = (origin: string) =>
      fetch(`${mesh.gateway.url}/v1/servers`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization",
        },
      });
    const allowed = await preflight("https://console.example.com");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    expect(allowed.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(allowed.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect((await preflight("https://evil.example.com")).status).toBe(403);

    const call = await fetch(`${mesh.gateway.url}/v1/servers`, {
      headers: { origin: "https://console.example.com", authorization: `Bearer ${mesh.adminKey}` },
    });
    expect(call.status).toBe(200);
    expect(call.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    expect(call.headers.get("access-control-expose-headers")).toContain("mcp-session-id");
    const other = await fetch(`${mesh.gateway.url}/healthz`, {
      headers: { origin: "https://evil.example.com" },
    });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("logs every request with a correlation id it echoes", async () => {
    const response = await fetch(`${mesh.gateway.url}/healthz`, {
      headers: { "x-correlation-id": "trace-me-123" },
    });
    expect(response.headers.get("x-correlation-id")).toBe("trace-me-123");
  });
});
