import { type ConnectError, fieldViolationsOf } from "@berth/platform";
import { EnvVarType, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { weatherDoc } from "../../test/weather-doc.js";
import { serverJsonFromServer } from "./export.js";
import { SCHEMA_URL, serverFromServerJson } from "./import.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests poke into nested JSON.
type Loose = Record<string, any>;

function fields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    return fieldViolationsOf(error as ConnectError).map((v) => v.field);
  }
  return [];
}

describe("server.json import", () => {
  it("maps the oci package, its inputs and the remotes, and reports what it cannot map", () => {
    const { server, warnings } = serverFromServerJson(weatherDoc());
    expect(server).toMatchObject({
      name: "io.github.acme/weather",
      image: "ghcr.io/acme/weather:1.2.0",
      transport: Transport.STREAMABLE_HTTP,
      port: 8080,
      path: "/mcp",
      args: ["--units=metric"],
      websiteUrl: "https://acme.example/weather",
    });
    expect(
      server.envSchema.map((e) => [e.name, e.type, e.required, e.secret, e.defaultValue]),
    ).toEqual([
      ["WEATHER_API_KEY", EnvVarType.STRING, true, true, undefined],
      ["UNITS", EnvVarType.STRING, false, false, "metric"],
      ["TIMEOUT", EnvVarType.NUMBER, false, false, "30"],
      ["CACHE_DIR", EnvVarType.FILEPATH, false, false, undefined],
    ]);
    expect(server.remotes[0]).toMatchObject({
      transport: Transport.STREAMABLE_HTTP,
      headers: { "X-Client": "berth" },
    });
    expect(server.remotes[0]?.headerSchema.map((h) => [h.name, h.secret])).toEqual([
      ["Authorization", true],
    ]);
    expect(server.remotes[0]?.variables.map((v) => [v.name, v.defaultValue])).toEqual([
      ["region", "eu"],
    ]);
    expect(warnings).toEqual([
      "packages[2]: registryType pypi is not supported; kept in the document only",
      "packages[0]: only packages[1] is mapped to the entry; kept in the document only",
      "packages[1].packageArguments[1]: needs a value from each user; not mapped",
    ]);
  });

  it("maps an npm-only document to a command and says it has no image", () => {
    const doc = weatherDoc();
    doc.packages = [(doc.packages as JsonValue[])[0] ?? null];
    const { server, warnings } = serverFromServerJson(doc);
    expect(server.image).toBe("");
    expect(server.command).toEqual(["npx", "@acme/weather-mcp@1.2.0"]);
    expect(warnings.join("\n")).toContain("no container image");
  });

  it("rejects bad documents naming each field in server.json terms", () => {
    const doc = weatherDoc("^1.0.0") as Loose;
    doc.name = "Not A Name";
    doc.description = "x".repeat(101);
    doc.packages[1].transport = { type: "carrier-pigeon" };
    doc.packages[1].environmentVariables[1].default = "kelvin";
    doc.packages[1].environmentVariables.push({ name: "WEATHER_API_KEY" });
    doc.packages[1].environmentVariables[0].default = "s3cret";
    doc.remotes[0].type = "stdio";
    expect(fields(() => serverFromServerJson(doc))).toEqual([
      "server_json.name",
      "server_json.description",
      "server_json.version",
      "server_json.packages[1].transport.type",
      "server_json.packages[1].environmentVariables[0].default",
      "server_json.packages[1].environmentVariables[1].default",
      "server_json.packages[1].environmentVariables[4].name",
      "server_json.remotes[0].type",
    ]);
    expect(fields(() => serverFromServerJson([]))).toEqual(["server_json"]);
  });

  it("refuses a literal secret value, without echoing it", () => {
    const doc = weatherDoc() as Loose;
    doc.remotes[0].headers[1].value = "Bearer sk-live-123456";
    let message = "";
    try {
      serverFromServerJson(doc);
    } catch (error) {
      message = JSON.stringify(fieldViolationsOf(error as ConnectError)) + (error as Error).message;
    }
    expect(message).toContain("server_json.remotes[0].headers[1].value");
    expect(message).not.toContain("sk-live");
    doc.remotes[0].headers[1].value = "Bearer {token}"; // a template is fine
    doc.remotes[0].variables.token = { isSecret: true };
    expect(fields(() => serverFromServerJson(doc))).toEqual([]);
  });
});

describe("server.json export", () => {
  it("gives back the imported document unchanged", () => {
    const doc = weatherDoc();
    const { server } = serverFromServerJson(doc);
    expect(serverJsonFromServer(server, structuredClone(doc))).toEqual(doc);
  });

  it("writes Berth's changes into the kept document", () => {
    const doc = weatherDoc();
    const { server } = serverFromServerJson(doc);
    server.image = "ghcr.io/acme/weather:1.3.0";
    server.port = 9000;
    server.envSchema = server.envSchema.filter((e) => e.name !== "CACHE_DIR");
    server.envSchema[1]!.defaultValue = "imperial";
    const out = serverJsonFromServer(server, structuredClone(doc)) as Loose;
    expect(out.packages[1].identifier).toBe("ghcr.io/acme/weather:1.3.0");
    expect(out.packages[1].transport).toEqual({
      type: "streamable-http",
      url: "http://localhost:9000/mcp",
    });
    expect(out.packages[1].environmentVariables.map((e: { name: string }) => e.name)).toEqual([
      "WEATHER_API_KEY",
      "UNITS",
      "TIMEOUT",
    ]);
    expect(out.packages[1].environmentVariables[1].default).toBe("imperial");
    expect(out.packages[1].environmentVariables[2].placeholder).toBe("seconds");
    expect(out.packages[2]).toEqual((doc.packages as unknown[])[2]);
  });

  it("builds a valid document for an entry that was never imported, and reads it back", () => {
    const { server } = serverFromServerJson(weatherDoc());
    const out = serverJsonFromServer(server, null);
    expect(out.$schema).toBe(SCHEMA_URL);
    const again = serverFromServerJson(out).server;
    expect(again.envSchema).toEqual(server.envSchema);
    expect(again.remotes).toEqual(server.remotes);
    expect(again.image).toBe(server.image);
  });
});
