import { describe, expect, it } from "vitest";
import { canonicalResource, createResourceUrls, mcpEndpointPath } from "./resource-urls.js";

describe("resource urls", () => {
  const urls = createResourceUrls("http://127.0.0.1:8080/");

  it("names each MCP endpoint as its own resource and everything else as the gateway", () => {
    expect(urls.base).toBe("http://127.0.0.1:8080");
    expect(urls.resourceOf("/mcp/everything")).toBe("http://127.0.0.1:8080/mcp/everything");
    expect(urls.resourceOf("/mcp/v/team")).toBe("http://127.0.0.1:8080/mcp/v/team");
    expect(urls.resourceOf("/v1/instances")).toBe("http://127.0.0.1:8080");
    expect(urls.resourceOf(undefined)).toBe("http://127.0.0.1:8080");
    expect(urls.metadataUrlOf("/mcp/v/team")).toBe(
      "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/v/team",
    );
    expect(urls.metadataUrlOf(undefined)).toBe(
      "http://127.0.0.1:8080/.well-known/oauth-protected-resource",
    );
  });

  it("recognises only its own resources", () => {
    expect(urls.isOurs("http://127.0.0.1:8080/")).toBe(true);
    expect(urls.isOurs("http://127.0.0.1:8080/mcp/x")).toBe(true);
    expect(urls.isOurs("http://127.0.0.1:8080/mcp/x/y")).toBe(false);
    expect(urls.isOurs("http://127.0.0.1:8080/v1/instances")).toBe(false);
    expect(urls.isOurs("http://127.0.0.1:8081/mcp/x")).toBe(false);
    expect(urls.isOurs("http://127.0.0.1:8080.evil.example/mcp/x")).toBe(false);
    expect(urls.isOurs("not a url")).toBe(false);
  });

  it("takes only endpoint paths and canonical http(s) resources", () => {
    expect(mcpEndpointPath("/mcp/")).toBeUndefined();
    expect(mcpEndpointPath("/mcp/v/")).toBeUndefined();
    expect(mcpEndpointPath("/mcp/a")).toBe("/mcp/a");
    expect(canonicalResource("https://h/a/")).toBe("https://h/a");
    expect(canonicalResource("https://h/a#frag")).toBeUndefined();
    expect(canonicalResource("ftp://h/a")).toBeUndefined();
  });

  it("refuses a public URL that is not http(s)", () => {
    expect(() => createResourceUrls("nats://x:1")).toThrow(/BERTH_PUBLIC_URL/);
  });
});
