import { describe, expect, it } from "vitest";
import { hashPassword, passwordMatches } from "./password.js";

describe("password hashing", () => {
  it("matches the password it hashed and nothing else, with a fresh salt each time", async () => {
    const first = await hashPassword("correct horse battery");
    const second = await hashPassword("correct horse battery");
    expect(first).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(first).not.toBe(second);
    expect(await passwordMatches("correct horse battery", first)).toBe(true);
    expect(await passwordMatches("correct horse batterY", first)).toBe(false);
    expect(await passwordMatches("correct horse battery", "plain")).toBe(false);
  });
});
