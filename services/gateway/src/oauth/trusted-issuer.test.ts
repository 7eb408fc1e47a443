import { describe, expect, it } from "vitest";
import { bearerChallenge } from "./challenges.js";
import { discoveryUrls, parseExternalIssuers } from "./external-issuers.js";
import { mapScopes, nameOf } from "./trusted-issuer.js";

describe("claim mappings", () => {
  it("takes Berth scope names from scope or scp, and ignores the rest", () => {
    expect(mapScopes({ scope: "openid mcp read bogus" })).toEqual(["read", "mcp"]);
    expect(mapScopes({ scp: ["write"] })).toEqual(["write"]);
    expect(mapScopes({})).toEqual([]);
  });

  it("maps an issuer's scopes and groups to Berth scopes as configured", () => {
    const mapping = {
      scopes: { "mcp:use": "mcp", mcp: "nothing" },
      groupsClaim: "roles",
      groups: { "berth-admins": ["admin"], readers: ["read", "bogus"] },
    };
    expect(mapScopes({ scope: "mcp:use mcp", roles: ["readers"] }, mapping)).toEqual([
      "read",
      "mcp",
    ]);
    expect(mapScopes({ roles: "berth-admins" }, mapping)).toEqual(["admin"]);
  });

  it("names a subject by the configured claim, then user name, e-mail, sub", () => {
    expect(nameOf({ sub: "s", email: "e@x", upn: "u" }, "upn")).toBe("u");
    expect(nameOf({ sub: "s", email: "e@x" })).toBe("e@x");
    expect(nameOf({ sub: "s" })).toBe("s");
  });
});

describe("external issuer configuration", () => {
  it("parses issuers and names the field that is wrong", () => {
    expect(parseExternalIssuers("")).toEqual([]);
    expect(parseExternalIssuers('[{"issuer":"https://idp.example/r","audience":"berth"}]')).toEqual(
      [{ issuer: "https://idp.example/r", audience: "berth" }],
    );
    expect(() => parseExternalIssuers("{")).toThrow(/JSON array/);
    expect(() => parseExternalIssuers('[{"issuer":"ftp://x"}]')).toThrow(
      /BERTH_OAUTH_ISSUERS\[0\.issuer\]/,
    );
    expect(() => parseExternalIssuers('[{"issuer":"https://x","groups":{"a":"admin"}}]')).toThrow(
      /0\.groups\.a/,
    );
  });

  it("discovers by OIDC first, then RFC 8414 with the path inserted", () => {
    expect(discoveryUrls("https://idp.example/realms/x/")).toEqual([
      "https://idp.example/realms/x/.well-known/openid-configuration",
      "https://idp.example/.well-known/oauth-authorization-server/realms/x",
    ]);
  });
});

describe("bearer challenges", () => {
  it("quotes every parameter and drops quotes inside values", () => {
    expect(
      bearerChallenge({
        resourceMetadata: "http://h/.well-known/oauth-protected-resource/mcp/a",
        error: "invalid_token",
        description: 'the "token" expired',
        scope: "mcp",
      }),
    ).toBe(
      'Bearer realm="berth", resource_metadata="http://h/.well-known/oauth-protected-resource/mcp/a", error="invalid_token", error_description="the token expired", scope="mcp"',
    );
  });
});
