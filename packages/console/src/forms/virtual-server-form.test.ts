import { describe, expect, it } from "vitest";
import {
  emptyMember,
  fieldErrors,
  fromVirtualServer,
  toVirtualServer,
  type VirtualServerDraft,
} from "./virtual-server-form.js";

const draft: VirtualServerDraft = {
  name: " team ",
  description: "d",
  members: [
    {
      ...emptyMember("i-1"),
      allow: "echo, get-*\nadd",
      deny: "",
      overrides: [{ tool: "echo", name: "say", description: "Says", pinned: '{"loud":true}' }],
    },
    { ...emptyMember("i-2"), prefixMode: "custom", prefix: " b ", separator: "." },
    { ...emptyMember("i-3"), prefixMode: "none" },
  ],
};

describe("the virtual server form", () => {
  it("turns a draft into the API's input: lists split, prefix unset/custom/empty, pins parsed", () => {
    const { value, errors } = toVirtualServer(draft);
    expect(errors).toEqual({});
    expect(value.name).toBe("team");
    expect(value.members[0]).toEqual({
      instance: "i-1",
      separator: "_",
      allowTools: ["echo", "get-*", "add"],
      denyTools: [],
      toolOverrides: [
        { tool: "echo", name: "say", description: "Says", pinnedArguments: { loud: true } },
      ],
    });
    expect("prefix" in value.members[0]!).toBe(false);
    expect(value.members[1]!.prefix).toBe("b");
    expect(value.members[2]!.prefix).toBe("");
  });

  it("reports pinned arguments that are not a JSON object at their field", () => {
    const bad = {
      ...draft,
      members: [
        {
          ...emptyMember("i"),
          overrides: [
            { tool: "a", name: "", description: "", pinned: "[1]" },
            { tool: "b", name: "", description: "", pinned: "{nope" },
          ],
        },
      ],
    };
    expect(toVirtualServer(bad).errors).toEqual({
      "members[0].tool_overrides[0].pinned_arguments": "must be a JSON object",
      "members[0].tool_overrides[1].pinned_arguments": "must be valid JSON",
    });
  });

  it("reads a stored server back into the same draft", () => {
    const { value } = toVirtualServer(draft);
    const back = fromVirtualServer(value);
    expect(back.members.map((m) => m.prefixMode)).toEqual(["instance", "custom", "none"]);
    expect(toVirtualServer(back).value).toEqual(value);
  });

  it("keys server violations by the form's fields, list items on their list", () => {
    expect(
      fieldErrors([
        { field: "virtual_server.name", description: "is required" },
        { field: "virtual_server.members[0].allow_tools[1]", description: "bad pattern" },
        { field: "virtual_server.members[0].allow_tools[2]", description: "bad too" },
        { field: "virtual_server.members[1].tool_overrides[0].name", description: "taken" },
      ]),
    ).toEqual({
      name: "is required",
      "members[0].allow_tools": "bad pattern; bad too",
      "members[1].tool_overrides[0].name": "taken",
    });
  });
});
