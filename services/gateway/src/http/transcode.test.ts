import { fieldViolationsOf } from "@berth/platform";
import { berthRegistry } from "@berth/proto";
import {
  EventEnvelopeSchema,
  McpServerCreatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import {
  type CreateServerRequest,
  CreateServerResponseSchema,
  ExportServerResponseSchema,
  type ImportServerRequest,
  ListServersResponseSchema,
  RegistryService,
  type UpdateServerRequest,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create, type JsonValue } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { mergeJson } from "./json-decode.js";
import { jsonErrorPosition } from "./json-position.js";
import { createRouteTable } from "./routes.js";
import { buildRequest, parseJsonBody, responseJson } from "./transcode.js";

const table = createRouteTable([RegistryService]);
const route = (name: string) => table.routes.find((r) => r.method.name === name)!;
const build = (name: string, body: JsonValue | undefined, bindings: Record<string, string> = {}) =>
  buildRequest(route(name), bindings, new URLSearchParams(), body, berthRegistry);

function errorOf(fn: () => unknown): ConnectError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return error as ConnectError;
  }
  throw new Error("expected an error");
}

describe("parseJsonBody", () => {
  it.each([
    ['{"name": "a",}', 13],
    ['{"name": tru}', 12],
    ['{"name": secret-value}', 9],
    ["[1, 2", 5],
    ['{"a": "\\q"}', 7],
    ['{"a": 1} x', 9],
    ["", 0],
    ['{"a": 01}', 7],
  ])("reports where %j goes wrong, without quoting it", (text, position) => {
    const error = errorOf(() => parseJsonBody(text));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(`malformed JSON at position ${position}`);
  });

  it("agrees with JSON.parse on what is valid, even deeply nested", () => {
    for (const text of ['{"a":[1,-2.5e3,true,null,"\\u00e9"]}', " 0 ", '"x"', "[[[]]]", "{}"]) {
      expect(jsonErrorPosition(text)).toBeUndefined();
    }
    expect(jsonErrorPosition(`${"[".repeat(200_000)}x`)).toBe(200_000);
  });
});

describe("buildRequest", () => {
  it("puts a field body into its field (body: server)", () => {
    const r = build("CreateServer", {
      name: "weather",
      tags: ["a"],
      port: 8080,
    }) as CreateServerRequest;
    expect(r.server?.name).toBe("weather");
    expect(r.server?.tags).toEqual(["a"]);
    expect(r.server?.port).toBe(8080);
  });

  it("takes the whole request from a `*` body, Struct included", () => {
    const jsonSpec = { type: "url", endpoint: "https://mcp.example.com/mcp", n: 1.5, x: null };
    const createInstance = createRouteTable([InstancesService]).routes.find(
      (r) => r.method.name === "CreateInstance",
    )!;
    expect(createInstance.body).toBe("*");
    const body = { instance: { name: "weather", jsonSpec }, secrets: { TOKEN: "t" } };
    const r = buildRequest(createInstance, {}, new URLSearchParams(), body, berthRegistry);
    expect(r).toMatchObject({ instance: { name: "weather", jsonSpec }, secrets: { TOKEN: "t" } });
  });

  it("takes a Struct field from the body (body: server_json) and answers one", () => {
    const serverJson = {
      name: "io.github.acme/weather",
      packages: [{ registryType: "npm", n: 1.5, ok: true, x: null }],
    };
    const r = build("ImportServer", serverJson) as ImportServerRequest;
    expect(r.serverJson).toEqual(serverJson);
    expect(
      responseJson(
        route("ExportServer"),
        create(ExportServerResponseSchema, { serverJson: r.serverJson }),
        berthRegistry,
      ),
    ).toEqual(serverJson);
  });

  it("lets path variables win over the body", () => {
    const r = build(
      "UpdateServer",
      { id: "other", title: "T" },
      { "server.id": "s1" },
    ) as UpdateServerRequest;
    expect(r.server?.id).toBe("s1");
    expect(r.server?.title).toBe("T");
  });

  it("refuses a body where the rule has none", () => {
    expect(errorOf(() => build("GetServer", {}, { id: "s1" })).rawMessage).toBe(
      "this method takes no request body",
    );
  });

  it.each<[string, JsonValue, string, string]>([
    ["a wrong scalar", { port: "eighty" }, "server.port", "expected a number (uint32)"],
    ["an out-of-range number", { port: -1 }, "server.port", "expected a number (uint32)"],
    ["an unknown field", { colour: "red" }, "server.colour", "unknown field"],
    [
      "a bad enum in a list",
      { envSchema: [{ name: "A" }, { name: "B", type: "NOPE" }] },
      "server.env_schema[1].type",
      "expected one of",
    ],
    [
      "a bad map value",
      { remotes: [{ headers: { a: 1 } }] },
      'server.remotes[0].headers["a"]',
      "expected a string",
    ],
    [
      "a scalar where a list belongs",
      { tags: "x" },
      "server.tags",
      "expected an array of a string",
    ],
    ["a bad timestamp", { createTime: "yesterday" }, "server.create_time", "RFC 3339"],
    ["a body that is not an object", "weather", "server", "expected an object"],
  ])("names the field of %s, without echoing the value", (_, body, field, description) => {
    const error = errorOf(() => build("CreateServer", body));
    expect(error.code).toBe(Code.InvalidArgument);
    const [violation] = fieldViolationsOf(error);
    expect(violation?.field).toBe(field);
    expect(violation?.description).toContain(description);
    expect(error.rawMessage).not.toMatch(/eighty|NOPE|colour: red|yesterday/);
  });

  it("resolves google.protobuf.Any through the registry", () => {
    const target = create(EventEnvelopeSchema);
    const payload = {
      "@type": "type.googleapis.com/berth.events.v1.McpServerCreated",
      server: { name: "w" },
    };
    mergeJson(EventEnvelopeSchema, target, { payload }, berthRegistry);
    expect(anyUnpack(target.payload!, McpServerCreatedSchema)?.server?.name).toBe("w");
    const unknown = { "@type": "type.googleapis.com/nope.Nope" };
    const error = errorOf(() =>
      mergeJson(
        EventEnvelopeSchema,
        create(EventEnvelopeSchema),
        { payload: unknown },
        berthRegistry,
      ),
    );
    expect(fieldViolationsOf(error)[0]?.field).toBe("payload");
  });
});

describe("responseJson", () => {
  it("answers the response_body field, {} when unset", () => {
    const created = create(CreateServerResponseSchema, {
      server: { id: "s1", name: "w", revision: 3n },
    });
    expect(responseJson(route("CreateServer"), created, berthRegistry)).toEqual({
      id: "s1",
      name: "w",
      revision: "3",
    });
    expect(
      responseJson(route("CreateServer"), create(CreateServerResponseSchema), berthRegistry),
    ).toEqual({});
  });

  it("answers the whole response without response_body, in lowerCamelCase", () => {
    const list = create(ListServersResponseSchema, {
      servers: [{ isPublic: true }],
      nextPageToken: "n",
    });
    expect(responseJson(route("ListServers"), list, berthRegistry)).toEqual({
      servers: [{ isPublic: true }],
      nextPageToken: "n",
    });
  });
});
