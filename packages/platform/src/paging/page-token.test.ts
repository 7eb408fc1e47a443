import { describe, expect, it } from "vitest";
import { type ConnectError, fieldViolationsOf } from "../errors/errors.js";
import { decodePageToken, encodePageToken, filterDigest } from "./page-token.js";

const cursor = {
  createdAt: new Date("2026-01-02T03:04:05.678Z"),
  id: "0b7e6f5a-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
};

function violation(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return fieldViolationsOf(error as ConnectError)[0]?.field ?? "none";
  }
  return "no error";
}

describe("page tokens", () => {
  it("round-trips the cursor exactly, to the millisecond", () => {
    const digest = filterDigest({ tag: "a" });
    expect(decodePageToken(encodePageToken(cursor, digest), digest)).toEqual(cursor);
  });

  it("refuses garbage, tampered and foreign tokens naming page_token", () => {
    const digest = filterDigest({ tag: "a" });
    const token = encodePageToken(cursor, digest);
    expect(violation(() => decodePageToken("!!!", digest))).toBe("page_token");
    expect(violation(() => decodePageToken("e30", digest))).toBe("page_token");
    expect(violation(() => decodePageToken(token.slice(0, -3), digest))).toBe("page_token");
    expect(violation(() => decodePageToken(token, filterDigest({ tag: "b" })))).toBe("page_token");
  });
});
