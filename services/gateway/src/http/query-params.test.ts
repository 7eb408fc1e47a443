import { fieldViolationsOf } from "@berth/platform";
import { berthRegistry } from "@berth/proto";
import {
  CreateServerRequestSchema,
  type DeleteServerRequest,
  type ListServersRequest,
  RegistryService,
  ServerStatus,
  type UpdateServerRequest,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { parseQuery } from "./query-params.js";
import { createRouteTable } from "./routes.js";
import { buildRequest } from "./transcode.js";

const table = createRouteTable([RegistryService]);
const route = (name: string) => table.routes.find((r) => r.method.name === name)!;

function requestOf<T>(method: string, query: string, bindings: Record<string, string> = {}): T {
  return buildRequest(
    route(method),
    bindings,
    new URLSearchParams(query),
    undefined,
    berthRegistry,
  ) as T;
}

function violationOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return {
      message: (error as ConnectError).rawMessage,
      violations: fieldViolationsOf(error as ConnectError),
    };
  }
  throw new Error("expected an error");
}

describe("query parameters", () => {
  it("parse scalars, enums by name or number, optional bools, by proto or JSON name", () => {
    const r = requestOf<ListServersRequest>(
      "ListServers",
      "page_size=2&tag=x&status=SERVER_STATUS_ACTIVE&isPublic=false&pageToken=t",
    );
    expect(r.pageSize).toBe(2);
    expect(r.tag).toBe("x");
    expect(r.status).toBe(ServerStatus.ACTIVE);
    expect(r.isPublic).toBe(false);
    expect(r.pageToken).toBe("t");
    expect(requestOf<ListServersRequest>("ListServers", "status=3").status).toBe(
      ServerStatus.DEPRECATED,
    );
  });

  it("parse 64-bit integers for DELETE", () => {
    const r = requestOf<DeleteServerRequest>("DeleteServer", "revision=9007199254740993", {
      id: "s1",
    });
    expect(r.revision).toBe(9007199254740993n);
    expect(r.id).toBe("s1");
  });

  it("turn repeated parameters into repeated fields and dots into nested fields", () => {
    const assignments = parseQuery(
      CreateServerRequestSchema,
      new URLSearchParams("server.tags=a&server.tags=b&server.port=8080"),
      [],
    );
    expect(assignments).toEqual([
      { param: "server.tags", fieldPath: "server.tags", json: { server: { tags: ["a", "b"] } } },
      { param: "server.port", fieldPath: "server.port", json: { server: { port: "8080" } } },
    ]);
  });

  it("parse a FieldMask from snake_case or lowerCamelCase paths", () => {
    const q = parseQuery(
      route("UpdateServer").method.input,
      new URLSearchParams("update_mask=title,env_schema,isPublic"),
      [],
    );
    expect(q[0]?.json).toEqual({ updateMask: "title,envSchema,isPublic" });
    const r = buildRequest(
      route("UpdateServer"),
      { "server.id": "s1" },
      new URLSearchParams("update_mask=title,env_schema"),
      { title: "T" },
      berthRegistry,
    ) as UpdateServerRequest;
    expect(r.updateMask?.paths).toEqual(["title", "env_schema"]);
    expect(r.server?.id).toBe("s1");
    expect(r.server?.title).toBe("T");
  });

  it("refuse unknown parameters, naming them", () => {
    const { message, violations } = violationOf(() =>
      requestOf("ListServers", "page_size=2&colour=red"),
    );
    expect(message).toBe('unknown query parameter "colour"');
    expect(violations).toEqual([{ field: "colour", description: "unknown query parameter" }]);
  });

  it("refuse values of the wrong type without echoing them", () => {
    const bad = violationOf(() => requestOf("ListServers", "page_size=lots"));
    expect(bad.violations).toEqual([
      { field: "page_size", description: "expected a number (int32)" },
    ]);
    const enumBad = violationOf(() => requestOf("ListServers", "status=SHINY"));
    expect(enumBad.violations[0]?.field).toBe("status");
    expect(enumBad.violations[0]?.description).toContain("SERVER_STATUS_ACTIVE");
    expect(enumBad.message).not.toContain("SHINY");
    const boolBad = violationOf(() => requestOf("ListServers", "is_public=yes"));
    expect(boolBad.violations).toEqual([
      { field: "is_public", description: "expected true or false" },
    ]);
  });

  it("refuse a repeated value for a singular field", () => {
    const { violations } = violationOf(() => requestOf("ListServers", "tag=a&tag=b"));
    expect(violations[0]).toEqual({
      field: "tag",
      description: "repeated value for a field that is not repeated",
    });
  });

  it("refuse fields that the path or the body sets", () => {
    const path = violationOf(() => requestOf("GetServer", "id=other", { id: "s1" }));
    expect(path.violations[0]?.field).toBe("id");
    const body = violationOf(() =>
      requestOf("UpdateServer", "server.title=x", { "server.id": "s1" }),
    );
    expect(body.violations[0]?.field).toBe("server.title");
    const star = violationOf(() => requestOf("ImportServer", "anything=1"));
    expect(star.violations[0]?.field).toBe("anything");
  });

  it("refuse messages without a scalar JSON form", () => {
    const { violations } = violationOf(() =>
      parseQuery(CreateServerRequestSchema, new URLSearchParams("server=x"), []),
    );
    expect(violations[0]?.description).toContain("cannot be set from the query");
  });
});
