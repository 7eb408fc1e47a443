import { VirtualServerSchema } from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { MemberSpec } from "./member-policy.js";
import { checkNamespaces, checkVirtualServerFields, collect } from "./virtual-server-validation.js";

const spec = (instanceId: string, prefix: string, extra: Partial<MemberSpec> = {}): MemberSpec => ({
  instanceId,
  instanceName: instanceId,
  prefix,
  separator: "_",
  allowTools: [],
  denyTools: [],
  overrides: [],
  ...extra,
});
const namespaces = (members: MemberSpec[]) =>
  collect((add) => checkNamespaces(members, "virtual_server", add));

describe("checkNamespaces", () => {
  it("accepts distinct namespaces", () => {
    expect(namespaces([spec("a", "alpha"), spec("b", "beta")])).toEqual([]);
  });

  it("refuses equal namespaces, one inside another, and an empty prefix beside others", () => {
    expect(namespaces([spec("a", "x"), spec("b", "x")])).toEqual([
      {
        field: "virtual_server.members[1].prefix",
        description: `namespace "x_" is also member 0's: tool names would be ambiguous`,
      },
    ]);
    expect(namespaces([spec("a", "x"), spec("b", "x_y")])[0]?.field).toBe(
      "virtual_server.members[1].prefix",
    );
    expect(namespaces([spec("a", ""), spec("b", "b")])[0]?.description).toMatch(/empty prefix/);
    expect(namespaces([spec("a", "")])).toEqual([]);
  });

  it("refuses the same instance twice and override names inside another namespace or twice", () => {
    expect(namespaces([spec("a", "p"), spec("a", "q")])).toEqual([
      { field: "virtual_server.members[1].instance", description: "is already member 0" },
    ]);
    const o = (name: string) => ({
      tool: "t",
      name,
      description: "",
      annotations: {},
      pinnedArguments: {},
    });
    const found = namespaces([
      spec("a", "p", { overrides: [o("q_t")] }),
      spec("b", "q", { overrides: [o("q_t")] }),
    ]);
    expect(found.map((v) => v.field)).toEqual([
      "virtual_server.members[0].tool_overrides[0].name",
      "virtual_server.members[1].tool_overrides[0].name",
    ]);
  });
});

describe("checkVirtualServerFields", () => {
  it("names every bad field", () => {
    const vs = create(VirtualServerSchema, {
      name: "-bad",
      members: [
        {
          instance: "",
          prefix: "has space",
          separator: "+",
          allowTools: ["ok*", "no spaces"],
          toolOverrides: [{ tool: "" }, { tool: "t", name: "bad name" }],
        },
      ],
    });
    const fields = collect((add) =>
      checkVirtualServerFields(vs, "virtual_server", new Set(["name", "members"]), add),
    ).map((v) => v.field);
    expect(fields).toEqual([
      "virtual_server.name",
      "virtual_server.members[0].instance",
      "virtual_server.members[0].prefix",
      "virtual_server.members[0].separator",
      "virtual_server.members[0].allow_tools[1]",
      "virtual_server.members[0].tool_overrides[0].tool",
      "virtual_server.members[0].tool_overrides[1].name",
    ]);
  });

  it("needs at least one member", () => {
    const vs = create(VirtualServerSchema, { name: "ok" });
    expect(
      collect((add) => checkVirtualServerFields(vs, "v", new Set(["name", "members"]), add)),
    ).toEqual([{ field: "v.members", description: "needs at least one member" }]);
  });
});
