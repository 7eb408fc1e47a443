import { describe, expect, it } from "vitest";
import { classifyAddress, classifyHost, isForbiddenAddress } from "./address-policy.js";

const strict = { allowLoopback: false, allowPrivate: false };
const open = { allowLoopback: true, allowPrivate: true };

describe("classifyAddress", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["2001:4860:4860::8888", "public"],
    ["127.0.0.1", "loopback"],
    ["127.1.2.3", "loopback"],
    ["::1", "loopback"],
    ["169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["100.100.100.200", "metadata"],
    ["192.0.0.192", "metadata"],
    ["169.254.1.1", "link-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["10.1.2.3", "private"],
    ["172.20.0.5", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["fd12::1", "private"],
    ["0.0.0.0", "forbidden"],
    ["255.255.255.255", "forbidden"],
    ["224.0.0.1", "forbidden"],
    ["240.0.0.1", "forbidden"],
    ["192.0.0.8", "forbidden"],
    ["192.0.2.1", "forbidden"],
    ["198.18.0.1", "forbidden"],
    ["::", "forbidden"],
    ["ff02::1", "forbidden"],
    ["2001:db8::1", "forbidden"],
    // IPv4-mapped, in both spellings
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:8.8.8.8", "public"],
    // IPv4-compatible
    ["::169.254.169.254", "metadata"],
    ["::127.0.0.1", "loopback"],
    ["::a00:1", "private"],
    // NAT64: the well-known prefix carries the address; local-use cannot be read safely
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b::808:808", "public"],
    ["64:ff9b:1::a9fe:a9fe", "private"],
    // 6to4 carries the address in bits 16-47
    ["2002:a9fe:a9fe::", "metadata"],
    ["2002:7f00:1::1", "loopback"],
    ["2002:0a00:0001::1", "private"],
    // Teredo: tunnelled, refused
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "forbidden"],
    ["not an address", "forbidden"],
  ])("%s is %s", (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
  });
});

describe("classifyHost", () => {
  it.each([
    ["mcp.example.com", "name"],
    ["[::169.254.169.254]", "metadata"],
    ["[64:ff9b::a9fe:a9fe]", "metadata"],
    ["[2002:a9fe:a9fe::]", "metadata"],
    ["192.0.0.192", "metadata"],
    ["localhost", "loopback"],
    ["api.localhost", "loopback"],
    ["LOCALHOST.", "loopback"],
    ["metadata.google.internal", "metadata"],
    ["instance-data.ec2.internal", "metadata"],
  ])("%s is %s", (host, kind) => {
    expect(classifyHost(host)).toBe(kind);
  });

  it("sees through the URL parser's normalisation of numeric and bracketed hosts", () => {
    expect(classifyHost(new URL("http://2852039166/").hostname)).toBe("metadata");
    expect(classifyHost(new URL("http://0xa9fea9fe/").hostname)).toBe("metadata");
    expect(classifyHost(new URL("http://[::169.254.169.254]/").hostname)).toBe("metadata");
    expect(classifyHost(new URL("http://[::ffff:127.0.0.1]/").hostname)).toBe("loopback");
  });
});

describe("isForbiddenAddress", () => {
  it.each([
    ["8.8.8.8", false, false],
    ["127.0.0.1", true, false],
    ["::ffff:127.0.0.1", true, false],
    ["10.0.0.1", true, false],
    ["169.254.169.254", true, false],
    ["64:ff9b::a9fe:a9fe", true, false],
    ["0.0.0.0", true, true],
    ["224.0.0.1", true, true],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", true, true],
  ])("%s: forbidden when strict %s, when open %s", (ip, strictly, openly) => {
    expect(isForbiddenAddress(ip, strict)).toBe(strictly);
    expect(isForbiddenAddress(ip, open)).toBe(openly);
  });
});
