import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import {
  callArguments,
  exposeTools,
  globMatches,
  type MemberSpec,
  toolAllowed,
  withoutPinned,
} from "./member-policy.js";

const member = (over: Partial<MemberSpec> = {}): MemberSpec => ({
  instanceId: "i1",
  instanceName: "one",
  prefix: "one",
  separator: "_",
  allowTools: [],
  denyTools: [],
  overrides: [],
  ...over,
});
const tool = (name: string, extra: Partial<Tool> = {}): Tool => ({
  name,
  inputSchema: { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
  ...extra,
});

describe("globMatches", () => {
  it("matches * and ? and takes every other character literally", () => {
    expect(globMatches("get_*", "get_user")).toBe(true);
    expect(globMatches("get_*", "set_user")).toBe(false);
    expect(globMatches("a?c", "abc")).toBe(true);
    expect(globMatches("a?c", "abbc")).toBe(false);
    expect(globMatches("a.c", "abc")).toBe(false);
    expect(globMatches("echo", "echo")).toBe(true);
    expect(globMatches("echo", "echo2")).toBe(false);
  });
});

describe("toolAllowed", () => {
  it("allows everything without lists, only the allowed with one, never the denied", () => {
    expect(toolAllowed(member(), "x")).toBe(true);
    expect(toolAllowed(member({ allowTools: ["get*"] }), "getX")).toBe(true);
    expect(toolAllowed(member({ allowTools: ["get*"] }), "putX")).toBe(false);
    expect(
      toolAllowed(member({ allowTools: ["get*"], denyTools: ["getSecret"] }), "getSecret"),
    ).toBe(false);
  });
});

describe("withoutPinned and callArguments", () => {
  it("hides pinned arguments from the schema and sends them whatever the caller gives", () => {
    const schema = withoutPinned(tool("t").inputSchema, { a: "fixed" });
    expect(schema.properties).toEqual({});
    expect(schema.required).toBeUndefined();
    expect(callArguments({ a: "caller", b: 1 }, { a: "fixed" })).toEqual({ a: "fixed", b: 1 });
  });
});

describe("exposeTools", () => {
  it("prefixes names, applies overrides and the policy", () => {
    const m = member({
      denyTools: ["secret*"],
      overrides: [
        {
          tool: "echo",
          name: "say",
          description: "Says it",
          annotations: { readOnlyHint: true },
          pinnedArguments: { a: "x" },
        },
      ],
    });
    const { tools } = exposeTools([m], [[tool("echo"), tool("add"), tool("secretThing")]]);
    expect(tools.map((t) => t.name)).toEqual(["say", "one_add"]);
    const say = tools[0]!;
    expect(say.original).toBe("echo");
    expect(say.tool.description).toBe("Says it");
    expect(say.tool.annotations).toEqual({ readOnlyHint: true });
    expect(say.tool.inputSchema.properties).toEqual({});
    expect(say.pinned).toEqual({ a: "x" });
  });

  it("settles a run-time collision one way: an override name wins, then the earlier member", () => {
    const a = member({ instanceId: "a", prefix: "a" });
    const b = member({
      instanceId: "b",
      prefix: "b",
      overrides: [
        { tool: "x", name: "a_y", description: "", annotations: {}, pinnedArguments: {} },
      ],
    });
    const { tools, collisions } = exposeTools([a, b], [[tool("y")], [tool("x")]]);
    expect(tools.map((t) => `${t.name}@${t.member}`)).toEqual(["a_y@1"]);
    expect(collisions).toEqual([{ name: "a_y", member: 0, original: "y", keptMember: 1 }]);
  });

  it("leaves out members whose tools are unknown (down)", () => {
    const { tools } = exposeTools(
      [member({ instanceId: "a", prefix: "a" }), member({ instanceId: "b", prefix: "b" })],
      [undefined, [tool("t")]],
    );
    expect(tools.map((t) => t.name)).toEqual(["b_t"]);
  });
});
