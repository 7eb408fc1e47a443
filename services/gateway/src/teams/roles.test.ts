import { describe, expect, it } from "vitest";
import { mapTeams } from "../oauth/trusted-issuer.js";
import { roleAllows, roleCovers, roleOfScopes } from "./roles.js";

describe("roles", () => {
  it("gives viewers reads, agents tool calls, editors both and writes, admins everything", () => {
    expect(roleAllows("viewer", "read")).toBe(true);
    expect(roleAllows("viewer", "call")).toBe(false);
    expect(roleAllows("agent", "call")).toBe(true);
    expect(roleAllows("agent", "read")).toBe(false);
    expect(roleAllows("editor", "write")).toBe(true);
    expect(roleAllows("editor", "manage")).toBe(false);
    expect(roleAllows("admin", "manage")).toBe(true);
  });

  it("orders roles only where one holds all the other may do", () => {
    expect(roleCovers("admin", "editor")).toBe(true);
    expect(roleCovers("editor", "agent")).toBe(true);
    expect(roleCovers("viewer", "agent")).toBe(false);
    expect(roleCovers("agent", "viewer")).toBe(false);
    expect(roleCovers("editor", "admin")).toBe(false);
  });

  it("reads the role existing scopes stood for", () => {
    expect(roleOfScopes(["read", "admin"])).toBe("admin");
    expect(roleOfScopes(["write"])).toBe("editor");
    expect(roleOfScopes(["read", "mcp"])).toBe("viewer");
    expect(roleOfScopes(["mcp"])).toBe("agent");
  });

  it("maps a groups claim to teams and roles, the highest per team, ignoring unknown roles", () => {
    const mapping = {
      groupsClaim: "groups",
      teams: {
        eng: { eng: "editor" },
        "eng-leads": { eng: "admin", ops: "viewer" },
        odd: { ops: "owner" },
      },
    };
    expect(mapTeams({ groups: ["eng", "eng-leads", "odd"] }, mapping)).toEqual(
      new Map([
        ["eng", "admin"],
        ["ops", "viewer"],
      ]),
    );
    expect(mapTeams({ groups: "eng" }, mapping)).toEqual(new Map([["eng", "editor"]]));
    expect(mapTeams({ groups: ["other"] }, mapping)).toEqual(new Map());
    expect(mapTeams({ groups: ["eng"] }, {})).toEqual(new Map());
  });
});
