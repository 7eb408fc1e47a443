import { describe, expect, it } from "vitest";
import { credentialOf, fromNodeHeaders } from "./credential.js";

describe("credentialOf", () => {
  it.each([
    [{ authorization: "Bearer abc" }, "abc"],
    [{ authorization: "bearer\tabc " }, "abc"],
    [{ authorization: "Basic abc" }, ""],
    [{ authorization: "Bearer a b" }, ""],
    [{ authorization: "Bearer" }, ""],
    [{ "x-api-key": " abc " }, "abc"],
    [{ authorization: "Bearer abc", "x-api-key": "other" }, "abc"],
    [{ authorization: ["Bearer a", "Bearer b"] }, ""],
    [{}, undefined],
  ])("reads %j as %j", (headers, expected) => {
    expect(credentialOf(fromNodeHeaders(headers as never))).toBe(expected);
  });
});
