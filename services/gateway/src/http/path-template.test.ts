import { describe, expect, it } from "vitest";
import {
  InvalidPathError,
  matchPathTemplate,
  PathTemplateError,
  parsePathTemplate,
  splitRequestPath,
} from "./path-template.js";

const match = (template: string, path: string) =>
  matchPathTemplate(parsePathTemplate(template), path);

describe("parsePathTemplate", () => {
  it("parses literals, variables, nested field paths and verbs", () => {
    const t = parsePathTemplate("/v1/{server.id}/x:start");
    expect(t.verb).toBe("start");
    expect(t.segments.map((s) => s.kind)).toEqual(["literal", "wildcard", "literal"]);
    expect(t.variables).toEqual([{ fieldPath: ["server", "id"], start: 1, end: 2 }]);
  });

  it("parses variables spanning several segments", () => {
    const t = parsePathTemplate("/v1/{name=projects/*/things/*}");
    expect(t.variables).toEqual([{ fieldPath: ["name"], start: 1, end: 5 }]);
    expect(t.verb).toBeUndefined();
  });

  it.each([
    ["v1/servers", "must start with /"],
    ["/v1/{id", "unbalanced"],
    ["/v1/{a{b}}", "unbalanced"],
    ["/v1/{1x}", "bad variable"],
    ["/v1/{id}/{id}", "duplicate variable"],
    ["/v1/**/x", "** must be the last"],
    ["/v1//x", "bad segment"],
    ["/v1/x:", "bad verb"],
  ])("refuses %s", (template, reason) => {
    expect(() => parsePathTemplate(template)).toThrow(PathTemplateError);
    expect(() => parsePathTemplate(template)).toThrow(reason);
  });
});

describe("matchPathTemplate", () => {
  it("binds single-segment variables, percent-decoded", () => {
    expect(match("/v1/servers/{id}", "/v1/servers/a%20b%3Ac")).toEqual({ id: "a b:c" });
    expect(match("/v1/servers/{server.id}", "/v1/servers/42")).toEqual({ "server.id": "42" });
  });

  it("requires the custom verb exactly", () => {
    expect(match("/v1/instances/{id}:start", "/v1/instances/i1:start")).toEqual({ id: "i1" });
    expect(match("/v1/instances/{id}:start", "/v1/instances/i1:stop")).toBeUndefined();
    expect(match("/v1/instances/{id}:start", "/v1/instances/i1")).toBeUndefined();
    expect(match("/v1/instances/{id}:start", "/v1/instances/:start")).toBeUndefined();
    // Without a verb in the template, a verb in the path does not match (no id "i1:start").
    expect(match("/v1/instances/{id}", "/v1/instances/i1:start")).toBeUndefined();
    expect(match("/v1/servers:import", "/v1/servers:import")).toEqual({});
    expect(match("/v1/servers", "/v1/servers:import")).toBeUndefined();
  });

  it("matches literals and counts segments", () => {
    expect(match("/v1/servers", "/v1/servers")).toEqual({});
    expect(match("/v1/servers", "/v1/servers/x")).toBeUndefined();
    expect(match("/v1/servers/{id}", "/v1/servers")).toBeUndefined();
    expect(match("/v1/servers/{id}", "/v1/instances/x")).toBeUndefined();
  });

  it("binds multi-segment patterns and ** tails", () => {
    expect(match("/v1/{name=projects/*/things/*}", "/v1/projects/p/things/t")).toEqual({
      name: "projects/p/things/t",
    });
    expect(match("/v1/{name=projects/*/things/*}", "/v1/projects/p/other/t")).toBeUndefined();
    expect(match("/v1/{path=files/**}", "/v1/files/a/b/c")).toEqual({ path: "files/a/b/c" });
    expect(match("/v1/{path=files/**}", "/v1/files")).toEqual({ path: "files" });
    expect(match("/v1/{path=**}:get", "/v1/a/b:get")).toEqual({ path: "a/b" });
  });

  it("gives variables named like Object.prototype members no special meaning", () => {
    const bindings = match("/v1/{constructor}", "/v1/x");
    expect(bindings?.constructor).toBe("x");
  });
});

describe("splitRequestPath refuses path tricks", () => {
  it.each([
    ["/v1/servers/..%2F", "encoded slash"],
    ["/v1/servers/a%2fb", "encoded slash"],
    ["/v1/servers/..", "dot segment"],
    ["/v1/servers/%2E%2E", "dot segment"],
    ["/v1/./servers", "dot segment"],
    ["/v1//servers", "empty segment"],
    ["//v1/servers", "empty segment"],
    ["/v1/servers/", "empty segment"],
    ["/v1/servers/%zz", "malformed percent-encoding"],
    ["/v1/servers/%00", "NUL"],
    ["v1/servers", "must start with /"],
  ])("%s", (path, reason) => {
    expect(() => splitRequestPath(path)).toThrow(InvalidPathError);
    expect(() => splitRequestPath(path)).toThrow(reason);
    expect(() => match("/v1/servers/{id}", path)).toThrow(InvalidPathError);
  });

  it("keeps ordinary segments raw", () => {
    expect(splitRequestPath("/v1/servers/a%20b...c")).toEqual(["v1", "servers", "a%20b...c"]);
    expect(splitRequestPath("/")).toEqual([]);
  });
});
