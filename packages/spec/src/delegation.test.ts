import { describe, expect, it } from "vitest";
import { checkJsonSpec, readJsonSpec } from "./json-spec.js";
import { createProblems } from "./problems.js";

const problemsOf = (json: unknown) => {
  const problems = createProblems();
  checkJsonSpec(json, "json_spec", problems);
  return problems.list;
};
const url = { type: "url", endpoint: "https://mcp.example.com/mcp" };

describe("json_spec.delegation", () => {
  it("reads a bare declaration with its defaults, and every field when given", () => {
    const bare = readJsonSpec({ ...url, delegation: { type: "oauth" } });
    expect(bare.ok && bare.spec.type === "url" && bare.spec.delegation).toEqual({
      type: "oauth",
      scopes: [],
    });
    const full = readJsonSpec({
      ...url,
      delegation: {
        type: "oauth",
        authorization_server: "https://auth.example.com",
        client_id: "berth",
        scopes: ["read", "write"],
      },
    });
    expect(full.ok && full.spec.type === "url" && full.spec.delegation).toEqual({
      type: "oauth",
      authorizationServer: "https://auth.example.com",
      clientId: "berth",
      scopes: ["read", "write"],
    });
  });

  it("names each bad field", () => {
    const fields = problemsOf({
      ...url,
      delegation: {
        type: "saml",
        authorization_server: "ftp://x",
        client_id: "has space",
        scopes: ["ok", "not ok"],
        extra: 1,
      },
    }).map((p) => p.field);
    expect(fields.sort()).toEqual([
      "json_spec.delegation.authorization_server",
      "json_spec.delegation.client_id",
      "json_spec.delegation.extra",
      "json_spec.delegation.scopes[1]",
      "json_spec.delegation.type",
    ]);
  });

  it("refuses a shared bearer token beside per-user delegation", () => {
    const problems = problemsOf({
      ...url,
      authentication: { type: "bearer", token: "secret_ref:i:AUTH_TOKEN" },
      delegation: { type: "oauth" },
    });
    expect(problems).toEqual([
      {
        field: "json_spec.delegation",
        description: expect.stringContaining("not allowed with bearer authentication"),
      },
    ]);
  });

  it("takes a confidential client's secret only with its client_id, and reads its reference", () => {
    const read = readJsonSpec({
      ...url,
      delegation: {
        type: "oauth",
        client_id: "berth",
        client_secret: "secret_ref:i:DELEGATION_CLIENT_SECRET",
      },
    });
    expect(read.ok && read.spec.type === "url" && read.spec.delegation).toEqual({
      type: "oauth",
      clientId: "berth",
      clientSecret: "secret_ref:i:DELEGATION_CLIENT_SECRET",
      scopes: [],
    });
    const fields = problemsOf({ ...url, delegation: { type: "oauth", client_secret: "" } }).map(
      (p) => p.field,
    );
    expect(fields.sort()).toEqual([
      "json_spec.delegation.client_id",
      "json_spec.delegation.client_secret",
    ]);
  });

  it("is a url spec's only", () => {
    const fields = problemsOf({ type: "docker", image: "x:1", delegation: { type: "oauth" } });
    expect(fields.map((p) => p.field)).toEqual(["json_spec.delegation"]);
  });
});
