import { describe, expect, it } from "vitest";
import { readRevocationKey, revocationKey } from "./revocation-feed.js";

describe("revocation bucket keys", () => {
  it("reads back every kind it writes", () => {
    for (const kind of ["key", "user", "membership"] as const) {
      const id = "4f8c2d7e-2b1a-4c3d-9e8f-0a1b2c3d4e5f";
      expect(readRevocationKey(revocationKey(kind, id))).toEqual({ kind, id });
    }
  });

  it("writes a key id as it is, so replicas of the version before users read it", () => {
    expect(revocationKey("key", "k_0123abcd")).toBe("k_0123abcd");
    expect(readRevocationKey("k_0123abcd")).toEqual({ kind: "key", id: "k_0123abcd" });
  });
});
