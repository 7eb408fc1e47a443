import { randomBytes } from "node:crypto";
import { parseKeyRing } from "@berth/platform";
import { describe, expect, it } from "vitest";
import { openSecret, sealSecret } from "./secret-cipher.js";

const key = () => randomBytes(32).toString("base64");

describe("parseKeyRing", () => {
  it("makes the first key active and keeps every key for decryption", () => {
    const ring = parseKeyRing(`k2:${key()}, k1:${key()}`);
    if (typeof ring === "string") throw new Error(ring);
    expect(ring.active.id).toBe("k2");
    expect([...ring.byId.keys()]).toEqual(["k2", "k1"]);
  });

  it("names the bad entry by position, never echoing key material", () => {
    const material = randomBytes(16).toString("base64");
    for (const [text, reason] of [
      [`k1:${material}`, /entry 1\): key is not 32 bytes/],
      [`k1:${key()},k2:not*base64`, /entry 2\): key is not base64/],
      [`k1:${key()},k1:${key()}`, /entry 2\): key id used twice/],
      [`${key()}`, /entry 1\): bad key id/],
      ["", /comma list/],
    ] as const) {
      const result = parseKeyRing(text);
      expect(result).toMatch(reason);
      expect(result).not.toContain(material);
    }
  });
});

describe("secret cipher", () => {
  const ring = parseKeyRing(`new:${key()},old:${key()}`);
  if (typeof ring === "string") throw new Error(ring);

  it("round-trips a value bound to its instance and name", () => {
    const sealed = sealSecret(ring, "i1", "API_KEY", "s3cr3t-value");
    expect(sealed.keyId).toBe("new");
    expect(sealed.ciphertext.toString("utf8")).not.toContain("s3cr3t-value");
    expect(openSecret(ring, "i1", "API_KEY", sealed)).toBe("s3cr3t-value");
    expect(() => openSecret(ring, "i2", "API_KEY", sealed)).toThrow(/failed authentication/);
    expect(() => openSecret(ring, "i1", "OTHER", sealed)).toThrow(/failed authentication/);
  });

  it("opens values sealed by an older key and refuses unknown key ids", () => {
    const oldOnly = parseKeyRing(`old:${ring.byId.get("old")!.key.toString("base64")}`);
    if (typeof oldOnly === "string") throw new Error(oldOnly);
    const sealed = sealSecret(oldOnly, "i1", "A", "v");
    expect(openSecret(ring, "i1", "A", sealed)).toBe("v");
    expect(() => openSecret(ring, "i1", "A", { ...sealed, keyId: "gone" })).toThrow(
      /not configured/,
    );
  });

  it("detects a tampered ciphertext", () => {
    const sealed = sealSecret(ring, "i1", "A", "value");
    sealed.ciphertext[0] = sealed.ciphertext[0]! ^ 1;
    expect(() => openSecret(ring, "i1", "A", sealed)).toThrow(/failed authentication/);
  });
});
