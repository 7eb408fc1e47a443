import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RegistryMesh, startRegistryMesh } from "./registry-mesh.js";
import { type RestAnswer, violatedFields } from "./rest-client.js";
import { weatherEntry as weather, weatherDoc } from "./weather-doc.js";

// server.json import and export through the gateway: POST /v1/servers:import, GET …:export.
describe("server.json import and export over REST", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: RegistryMesh;
  let call: RegistryMesh["rest"];

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startRegistryMesh(engines);
    call = mesh.rest;
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  const expectError = (answer: RestAnswer, status: number, code: string, fields?: string[]) => {
    expect(answer.status).toBe(status);
    expect(answer.body.error.status).toBe(code);
    if (fields) expect(violatedFields(answer)).toEqual(fields);
  };

  it("imports a server.json idempotently, updates on a newer version, and exports it back", async () => {
    const doc = weatherDoc("1.2.0");
    const first = await call("POST", "/v1/servers:import", doc);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      changed: true,
      server: {
        name: "io.github.acme/weather",
        image: "ghcr.io/acme/weather:1.2.0",
        transport: "TRANSPORT_STREAMABLE_HTTP",
        port: 8080,
        imported: true,
        revision: "1",
      },
    });
    expect(first.body.warnings).toContain(
      "packages[2]: registryType pypi is not supported; kept in the document only",
    );
    const exported = await call("GET", "/v1/servers/io.github.acme/weather:export");
    expect(exported).toEqual({ status: 200, body: doc });

    const again = await call("POST", "/v1/servers:import", doc);
    // proto3 JSON leaves out false: no "changed" means nothing changed.
    expect(again.body.changed).toBeUndefined();
    expect(again.body.server).toMatchObject({ id: first.body.server.id, revision: "1" });

    await call("PATCH", "/v1/servers/io.github.acme/weather?updateMask=tags", { tags: ["team-a"] });
    const newer = weatherDoc("1.3.0");
    const updated = await call("POST", "/v1/servers:import", newer);
    expect(updated.body).toMatchObject({
      changed: true,
      server: { id: first.body.server.id, version: "1.3.0", revision: "3", tags: ["team-a"] },
    });
    expect((await call("GET", `/v1/servers/${first.body.server.id}:export`)).body).toEqual(newer);

    expectError(
      await call("POST", "/v1/servers:import", weatherDoc("1.1.0")),
      400,
      "FAILED_PRECONDITION",
    );
    const changedSameVersion = { ...newer, title: "Other" };
    expectError(
      await call("POST", "/v1/servers:import", changedSameVersion),
      409,
      "ALREADY_EXISTS",
    );
    const bad = { ...weatherDoc("2.0.0"), remotes: [{ type: "sse" }] };
    expectError(await call("POST", "/v1/servers:import", bad), 400, "INVALID_ARGUMENT", [
      "server_json.remotes[0].url",
    ]);
    expectError(await call("POST", "/v1/servers:import", {}), 400, "INVALID_ARGUMENT", [
      "server_json",
    ]);
    expect((await call("GET", "/v1/servers/io.github.acme/weather")).body.version).toBe("1.3.0");
  });

  it("exports an entry made in Berth as a server.json that imports again", async () => {
    const native = await call("POST", "/v1/servers", {
      ...weather,
      name: "io.github.acme/native",
      tags: [],
    });
    expect(native.status).toBe(200);
    const doc = (await call("GET", "/v1/servers/io.github.acme/native:export")).body;
    expect(doc).toMatchObject({
      name: "io.github.acme/native",
      version: "1.0.0",
      packages: [
        {
          registryType: "oci",
          identifier: "ghcr.io/acme/weather:1.0.0",
          transport: { type: "streamable-http", url: "http://localhost:8080/mcp" },
        },
      ],
    });
    await call("DELETE", "/v1/servers/io.github.acme/native");
    const back = await call("POST", "/v1/servers:import", doc);
    expect(back.body.server).toMatchObject({
      image: weather.image,
      port: 8080,
      envSchema: weather.envSchema,
    });
  });
});
