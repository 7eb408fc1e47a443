import { randomBytes } from "node:crypto";
import { parseKeyRing, sealValue } from "@berth/platform";
import { describe, expect, it } from "vitest";
import { derivedKeyRing, openStoredIssuerKey } from "./issuer-keys.js";

const ringOf = (text: string) => {
  const ring = parseKeyRing(text);
  if (typeof ring === "string") throw new Error(ring);
  return ring;
};

const stored = (ring: ReturnType<typeof ringOf>, context: string, value: string) => {
  const sealed = sealValue(ring, context, value);
  return {
    sealed: {
      keyId: sealed.keyId,
      nonce: sealed.nonce.toString("base64"),
      ciphertext: sealed.ciphertext.toString("base64"),
    },
  };
};

describe("issuer key sealing", () => {
  it("derives the default ring from the NATS password: the same for every replica, another for another password", () => {
    const a = derivedKeyRing("password one");
    expect(a.active.key).toHaveLength(32);
    expect(derivedKeyRing("password one").active.key.equals(a.active.key)).toBe(true);
    expect(derivedKeyRing("password two").active.key.equals(a.active.key)).toBe(false);
  });

  it("opens a row only under its own name, and names the setting (never key material) when it cannot", () => {
    const material = randomBytes(32).toString("base64");
    const ring = ringOf(`k1:${material}`);
    const row = stored(ring, "berth.oauth-issuer-key.v1:signing", JSON.stringify({ d: "secret" }));
    expect(openStoredIssuerKey(ring, "signing", row)).toEqual({ d: "secret" });

    const swapped = () => openStoredIssuerKey(ring, "cookies", row);
    expect(swapped).toThrow(/failed authentication.*BERTH_OAUTH_KEY_ENCRYPTION_KEYS/);
    const other = ringOf(`k2:${randomBytes(32).toString("base64")}`);
    let message = "";
    try {
      openStoredIssuerKey(other, "signing", row);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/key id "k1", not configured.*BERTH_OAUTH_KEY_ENCRYPTION_KEYS/);
    expect(message).not.toContain(material);
    expect(message).not.toContain("secret");
  });
});
