import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { http } from "@berth/proto/gen/google/api/annotations_pb";
import { HttpRuleSchema } from "@berth/proto/gen/google/api/http_pb";
import {
  create,
  createFileRegistry,
  type MessageInitShape,
  setExtension,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  MethodOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createRouteTable, RouteTableError } from "./routes.js";

interface TestMethod {
  name: string;
  rule: MessageInitShape<typeof HttpRuleSchema>;
  clientStreaming?: boolean;
}

/** A service `t.S` built at run time whose request `t.Req` has `id`, `tags` (repeated) and `sub.id`. */
function testService(methods: TestMethod[]) {
  const string = FieldDescriptorProto_Type.STRING;
  const optional = FieldDescriptorProto_Label.OPTIONAL;
  const file = create(FileDescriptorProtoSchema, {
    name: "t.proto",
    package: "t",
    syntax: "proto3",
    messageType: [
      {
        name: "Req",
        field: [
          { name: "id", number: 1, type: string, label: optional, jsonName: "id" },
          {
            name: "tags",
            number: 2,
            type: string,
            label: FieldDescriptorProto_Label.REPEATED,
            jsonName: "tags",
          },
          {
            name: "sub",
            number: 3,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: ".t.Req",
            label: optional,
            jsonName: "sub",
          },
        ],
      },
    ],
    service: [
      {
        name: "S",
        method: methods.map((m) => {
          const options = create(MethodOptionsSchema);
          setExtension(options, http, create(HttpRuleSchema, m.rule));
          return {
            name: m.name,
            inputType: ".t.Req",
            outputType: ".t.Req",
            options,
            clientStreaming: m.clientStreaming,
          };
        }),
      },
    ],
  });
  return createFileRegistry(file, () => undefined).getService("t.S")!;
}

describe("createRouteTable over Berth's public services", () => {
  const table = createRouteTable([RegistryService, InstancesService, RuntimeService]);
  const methodOf = (httpMethod: string, path: string) => {
    const found = table.match(httpMethod, path);
    return "route" in found ? found.route.method.name : found;
  };

  it("routes every binding to its method", () => {
    expect(methodOf("GET", "/v1/servers")).toBe("ListServers");
    expect(methodOf("POST", "/v1/servers")).toBe("CreateServer");
    expect(methodOf("get", "/v1/servers/abc")).toBe("GetServer");
    expect(methodOf("GET", "/v1/servers/abc:export")).toBe("ExportServer");
    expect(methodOf("PATCH", "/v1/servers/abc")).toBe("UpdateServer");
    expect(methodOf("POST", "/v1/servers:import")).toBe("ImportServer");
    expect(methodOf("POST", "/v1/instances/i1:restart")).toBe("RestartInstance");
    expect(methodOf("GET", "/v1/instances/i1/tools")).toBe("ListInstanceTools");
    expect(methodOf("GET", "/v1/instances/i1:watch")).toBe("WatchInstance");
  });

  it("gives the path bindings of the matched route", () => {
    expect(table.match("PATCH", "/v1/servers/a%20b")).toMatchObject({
      bindings: { "server.id": "a b" },
    });
  });

  it("answers 405 with the allowed methods, 404 for unknown paths, 400 for path tricks", () => {
    expect(table.match("POST", "/v1/servers/abc")).toEqual({
      status: 405,
      allow: ["DELETE", "GET", "PATCH"],
    });
    expect(table.match("GET", "/v1/instances/i1:start")).toEqual({ status: 405, allow: ["POST"] });
    expect(table.match("GET", "/v1/servers/abc:unknown")).toEqual({ status: 404 });
    expect(table.match("GET", "/v2/servers")).toEqual({ status: 404 });
    expect(table.match("GET", "/v1/servers/..%2Fsecrets")).toMatchObject({ status: 400 });
  });

  it("leaves unannotated methods out", () => {
    expect(table.routes.some((r) => r.method.name === "ResolveEndpoint")).toBe(false);
    // Internal too: a wake-up answers the endpoint's credentials; activity moves idle clocks.
    for (const name of ["WakeInstance", "ReportActivity"])
      expect(table.routes.some((r) => r.method.name === name)).toBe(false);
  });
});

describe("createRouteTable over custom rules", () => {
  it("prefers literal segments over variables whatever the declaration order", () => {
    const s = testService([
      { name: "ById", rule: { pattern: { case: "get", value: "/v1/things/{id}" } } },
      { name: "Special", rule: { pattern: { case: "get", value: "/v1/things/special" } } },
    ]);
    const found = createRouteTable([s]).match("GET", "/v1/things/special");
    expect("route" in found && found.route.method.name).toBe("Special");
  });

  it("serves additional bindings and custom methods", () => {
    const s = testService([
      {
        name: "Get",
        rule: {
          pattern: { case: "get", value: "/v1/things/{id}" },
          additionalBindings: [
            { pattern: { case: "custom", value: { kind: "head", path: "/v1/t/{id}" } } },
          ],
        },
      },
    ]);
    const found = createRouteTable([s]).match("HEAD", "/v1/t/x");
    expect(found).toMatchObject({ bindings: { id: "x" } });
  });

  it.each<[string, TestMethod[], string]>([
    [
      "two rules for the same method and path shape",
      [
        { name: "A", rule: { pattern: { case: "get", value: "/v1/things/{id}" } } },
        { name: "B", rule: { pattern: { case: "get", value: "/v1/things/{sub.id}" } } },
      ],
      "conflicts with t.S.A",
    ],
    [
      "a body on GET",
      [{ name: "A", rule: { pattern: { case: "get", value: "/v1/a" }, body: "*" } }],
      "GET binding cannot have a body",
    ],
    [
      "an unknown body field",
      [{ name: "A", rule: { pattern: { case: "post", value: "/v1/a" }, body: "nope" } }],
      "has no field nope",
    ],
    [
      "a repeated path variable",
      [{ name: "A", rule: { pattern: { case: "get", value: "/v1/{tags}" } } }],
      "not a singular scalar",
    ],
    [
      "an unknown path variable",
      [{ name: "A", rule: { pattern: { case: "get", value: "/v1/{sub.nope}" } } }],
      "not a singular scalar",
    ],
    [
      "a bad template",
      [{ name: "A", rule: { pattern: { case: "get", value: "/v1/{id" } } }],
      "unbalanced",
    ],
    [
      "a client-streaming method",
      [{ name: "A", rule: { pattern: { case: "post", value: "/v1/a" } }, clientStreaming: true }],
      "client-streaming",
    ],
  ])("refuses %s", (_, methods, reason) => {
    const s = testService(methods);
    expect(() => createRouteTable([s])).toThrow(RouteTableError);
    expect(() => createRouteTable([s])).toThrow(reason);
  });
});
