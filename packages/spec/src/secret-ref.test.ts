import { describe, expect, it } from "vitest";
import { formatSecretRef, isSecretRef, parseSecretRef } from "./secret-ref.js";

describe("secret references", () => {
  it("formats and parses the same form", () => {
    const ref = formatSecretRef("8c5e0f3e-2b7a-4e4c-9d5b-3f1a2b3c4d5e", "API_KEY");
    expect(ref).toBe("secret_ref:8c5e0f3e-2b7a-4e4c-9d5b-3f1a2b3c4d5e:API_KEY");
    expect(parseSecretRef(ref)).toEqual({
      instanceId: "8c5e0f3e-2b7a-4e4c-9d5b-3f1a2b3c4d5e",
      name: "API_KEY",
    });
  });

  it.each(["secret_ref:", "secret_ref:i", "secret_ref:i:", "secret_ref:i:1BAD", "secret_ref::X"])(
    "%s has the prefix but is malformed",
    (value) => {
      expect(isSecretRef(value)).toBe(true);
      expect(parseSecretRef(value)).toBeUndefined();
    },
  );

  it("takes other values as plain", () => {
    expect(isSecretRef("info")).toBe(false);
    expect(isSecretRef(3)).toBe(false);
    expect(parseSecretRef("SECRET_REF:i:X")).toBeUndefined();
  });
});
