import { z } from "zod";

/** One AES-256 key of the ring, named by the id stored beside each ciphertext. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

/** The configured keys: the first encrypts, every one decrypts (key rotation). */
export interface KeyRing {
  active: SecretKey;
  byId: ReadonlyMap<string, SecretKey>;
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The format, for error messages (never the value: it is key material). */
const FORMAT = "must be a comma list of <keyId>:<base64 of 32 bytes>";

/**
 * Parses a key ring setting (BERTH_SECRET_KEYS, BERTH_OAUTH_KEY_ENCRYPTION_KEYS: `k2:<base64>,k1:<base64>`). Returns the ring, or a reason that names
 * the bad entry by position only.
 */
export function parseKeyRing(text: string): KeyRing | string {
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) return FORMAT;
  const byId = new Map<string, SecretKey>();
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(":");
    const id = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    const where = `(entry ${index + 1})`;
    if (colon < 0 || !KEY_ID.test(id)) return `${FORMAT} ${where}: bad key id`;
    if (!BASE64.test(encoded)) return `${FORMAT} ${where}: key is not base64`;
    const key = Buffer.from(encoded, "base64");
    if (key.length !== 32) return `${FORMAT} ${where}: key is not 32 bytes`;
    if (byId.has(id)) return `${FORMAT} ${where}: key id used twice`;
    byId.set(id, { id, key });
  }
  const first = byId.values().next().value as SecretKey;
  return { active: first, byId };
}

/**
 * A key ring environment variable (`k2:<base64>,k1:<base64>`). Issues name the bad entry by
 * position only: the value is key material.
 */
export function keyRingVar() {
  return z.string().transform((value, ctx) => {
    const ring = parseKeyRing(value);
    if (typeof ring === "string") {
      ctx.addIssue({ code: "custom", message: ring });
      return z.NEVER;
    }
    return ring;
  });
}
