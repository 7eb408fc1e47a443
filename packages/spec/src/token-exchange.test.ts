import { describe, expect, it } from "vitest";
import { checkJsonSpec, readJsonSpec } from "./json-spec.js";
import { createProblems } from "./problems.js";

const problemsOf = (json: unknown) => {
  const problems = createProblems();
  checkJsonSpec(json, "json_spec", problems);
  return problems.list;
};
const url = { type: "url", endpoint: "https://mcp.example.com/mcp" };

describe("json_spec.delegation of type token_exchange", () => {
  it("reads a bare one with its defaults, and a full one as given", () => {
    const bare = readJsonSpec({ ...url, delegation: { type: "token_exchange" } });
    expect(bare.ok && bare.spec.type === "url" && bare.spec.tokenExchange).toEqual({
      type: "token_exchange",
      scopes: [],
    });
    // The oauth kind's reader does not take it for an authorization code delegation.
    expect(bare.ok && bare.spec.type === "url" && bare.spec.delegation).toBeUndefined();
    const full = readJsonSpec({
      ...url,
      delegation: {
        type: "token_exchange",
        issuer: "https://auth.example.com/realms/a",
        audience: "mcp-upstream",
        resource: "https://mcp.example.com/mcp",
        scopes: ["read", "write"],
      },
    });
    expect(full.ok && full.spec.type === "url" && full.spec.tokenExchange).toEqual({
      type: "token_exchange",
      issuer: "https://auth.example.com/realms/a",
      audience: "mcp-upstream",
      resource: "https://mcp.example.com/mcp",
      scopes: ["read", "write"],
    });
  });

  it("names every field that is wrong", () => {
    const problems = problemsOf({
      ...url,
      delegation: {
        type: "token_exchange",
        issuer: "ftp://auth.example.com",
        audience: "has space",
        resource: "https://mcp.example.com/mcp#frag",
        scopes: ["ok", "not ok"],
        client_secret: "s3cret",
      },
    });
    expect(problems.map((p) => p.field).sort()).toEqual([
      "json_spec.delegation.audience",
      "json_spec.delegation.client_secret",
      "json_spec.delegation.issuer",
      "json_spec.delegation.resource",
      "json_spec.delegation.scopes[1]",
    ]);
    // A problem never echoes a value (a secret pasted in the wrong place stays unseen).
    expect(JSON.stringify(problems)).not.toContain("s3cret");
  });

  it("refuses a resource on another origin than the endpoint (the token is sent to the endpoint)", () => {
    const problems = problemsOf({
      ...url,
      delegation: { type: "token_exchange", resource: "https://payroll.example.com/api" },
    });
    expect(problems).toEqual([
      {
        field: "json_spec.delegation.resource",
        description: "must be on the endpoint's origin (https://mcp.example.com)",
      },
    ]);
    const sameOrigin = problemsOf({
      ...url,
      delegation: { type: "token_exchange", resource: "https://mcp.example.com/" },
    });
    expect(sameOrigin).toEqual([]);
  });

  it("refuses a list of scopes that is not one, and a user in the issuer URL", () => {
    const problems = problemsOf({
      ...url,
      delegation: { type: "token_exchange", scopes: "read", issuer: "https://u:p@a.example.com" },
    });
    expect(problems.map((p) => p.field).sort()).toEqual([
      "json_spec.delegation.issuer",
      "json_spec.delegation.scopes",
    ]);
  });

  it("refuses a shared bearer token beside it, and an unknown kind", () => {
    const both = problemsOf({
      ...url,
      authentication: { type: "bearer", token: "secret_ref:i:AUTH_TOKEN" },
      delegation: { type: "token_exchange" },
    });
    expect(both.map((p) => p.field)).toEqual(["json_spec.delegation"]);
    const unknown = problemsOf({ ...url, delegation: { type: "saml" } });
    expect(unknown).toContainEqual({
      field: "json_spec.delegation.type",
      description: "must be oauth or token_exchange",
    });
  });
});
