import { describe, expect, it } from "vitest";
import { generateApiKey, hashSecret, parseApiKey, secretMatches } from "./key-format.js";

describe("API key format", () => {
  it("generates keys that parse back to their id and secret", () => {
    const { id, secret, key } = generateApiKey();
    expect(key).toMatch(/^berth_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(parseApiKey(key)).toEqual({ id, secret });
    expect(generateApiKey().key).not.toBe(key);
  });

  it.each([
    "",
    "berth_",
    "Bearer berth_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "berth_0123456789ABCDEF_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "berth_0123456789abcdef_short",
    "berth_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "xberth_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  ])("refuses %j", (key) => {
    expect(parseApiKey(key)).toBeUndefined();
  });

  it("matches a secret against its hash only", () => {
    const { secret } = generateApiKey();
    const stored = hashSecret(secret);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).not.toContain(secret);
    expect(secretMatches(secret, stored)).toBe(true);
    expect(secretMatches(`${secret}x`, stored)).toBe(false);
    expect(secretMatches(secret, "00")).toBe(false);
  });
});
