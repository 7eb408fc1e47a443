import { describe, expect, it } from "vitest";
import { classifyHost, endpointProblem } from "./endpoint-policy.js";

const strict = { allowLoopback: true, allowPrivate: false };

describe("classifyHost", () => {
  it.each([
    ["mcp.example.com", "public"],
    ["8.8.8.8", "public"],
    ["127.0.0.1", "loopback"],
    ["127.1.2.3", "loopback"],
    ["localhost", "loopback"],
    ["[::1]", "loopback"],
    ["169.254.169.254", "metadata"],
    ["metadata.google.internal", "metadata"],
    ["[fd00:ec2::254]", "metadata"],
    ["[::ffff:169.254.169.254]", "metadata"],
    ["[::ffff:a9fe:a9fe]", "metadata"],
    ["169.254.1.1", "link-local"],
    ["[fe80::1]", "link-local"],
    ["10.1.2.3", "private"],
    ["172.20.0.5", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["[fd12::1]", "private"],
    ["0.0.0.0", "forbidden"],
    ["224.0.0.1", "forbidden"],
    ["[::]", "forbidden"],
  ])("%s is %s", (host, kind) => {
    expect(classifyHost(host)).toBe(kind);
  });

  it("sees through the URL parser's normalisation of numeric hosts", () => {
    expect(classifyHost(new URL("http://2852039166/").hostname)).toBe("metadata");
    expect(classifyHost(new URL("http://0xa9fea9fe/").hostname)).toBe("metadata");
  });
});

describe("endpointProblem", () => {
  const problem = (url: string, policy = strict) => endpointProblem(new URL(url), policy);

  it("allows public hosts and, by default, loopback", () => {
    expect(problem("https://mcp.example.com/mcp")).toBeUndefined();
    expect(problem("http://127.0.0.1:3000/mcp")).toBeUndefined();
  });

  it("refuses metadata, link-local and private addresses by default", () => {
    expect(problem("http://169.254.169.254/latest")).toMatch(/metadata/);
    expect(problem("http://[fe80::1]/mcp")).toMatch(/link-local/);
    expect(problem("http://10.0.0.1/mcp")).toMatch(/private.*BERTH_ALLOW_PRIVATE_ENDPOINTS/);
  });

  it("follows the operator settings", () => {
    const open = { allowLoopback: false, allowPrivate: true };
    expect(problem("http://10.0.0.1/mcp", open)).toBeUndefined();
    expect(problem("http://169.254.169.254/", open)).toBeUndefined();
    expect(problem("http://127.0.0.1/mcp", open)).toMatch(/loopback/);
    expect(problem("http://0.0.0.0/mcp", open)).toMatch(/unspecified/);
  });
});
