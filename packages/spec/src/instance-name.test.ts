import { describe, expect, it } from "vitest";
import { isImageAllowed, isRootUser, parseImagePatterns } from "./docker-policy.js";
import { instanceNameProblem } from "./instance-name.js";
import { isUuid } from "./uuid.js";

describe("instance names", () => {
  it.each(["a", "my-server", "weather-1", "x".repeat(63), "0abc"])("%s is a name", (name) => {
    expect(instanceNameProblem(name)).toBeUndefined();
  });

  it.each([
    ["", /required/],
    ["Bad Name", /lowercase/],
    ["-dash", /lowercase/],
    ["x".repeat(64), /at most 63/],
    ["8c5e0f3e-2b7a-4e4c-9d5b-3f1a2b3c4d5e", /look like an id/],
  ])("%j is refused", (name, why) => {
    expect(instanceNameProblem(name)).toMatch(why);
  });

  it("recognises UUIDs in either case only in their canonical form", () => {
    expect(isUuid("8C5E0F3E-2B7A-4E4C-9D5B-3F1A2B3C4D5E")).toBe(true);
    expect(isUuid("8c5e0f3e2b7a4e4c9d5b3f1a2b3c4d5e")).toBe(false);
  });
});

describe("docker policy", () => {
  const policy = { allowedImages: parseImagePatterns(" ghcr.io/acme/*, berth/echo:* ,") };

  it("allows the catalog image and the admin's patterns only", () => {
    expect(policy.allowedImages).toEqual(["ghcr.io/acme/*", "berth/echo:*"]);
    expect(isImageAllowed("berth/weather:1", "berth/weather:1", policy)).toBe(true);
    expect(isImageAllowed("ghcr.io/acme/tool:2", "berth/weather:1", policy)).toBe(true);
    expect(isImageAllowed("berth/echo:3", undefined, policy)).toBe(true);
    expect(isImageAllowed("alpine:3", "berth/weather:1", policy)).toBe(false);
    expect(isImageAllowed("ghcr.io/acmex/tool:2", "x", policy)).toBe(false);
    expect(isImageAllowed("berth/weather:1", "berth/weather:1", { allowedImages: [] })).toBe(true);
  });

  it.each([
    ["0", true],
    ["root", true],
    ["0:0", true],
    ["ROOT:wheel", true],
    ["000", true],
    ["1000", false],
    ["1000:0", false],
    ["node", false],
  ])("user %s is root: %s", (user, root) => {
    expect(isRootUser(user)).toBe(root);
  });
});
