import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** `berth_<id>_<secret>`: the id names the stored row, the secret is checked against its hash. */
export const API_KEY_PATTERN = /^berth_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})$/;

/** The shape of a key's id (16 hex digits). */
export const API_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

/** The two parts of a well-formed key. */
export interface ParsedApiKey {
  id: string;
  secret: string;
}

/** A fresh key: a random id and 256 random bits of secret. */
export function generateApiKey(): ParsedApiKey & { key: string } {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, secret, key: `berth_${id}_${secret}` };
}

/** The id and secret of a key, or undefined when it is not one (nothing to look up then). */
export function parseApiKey(key: string): ParsedApiKey | undefined {
  const match = API_KEY_PATTERN.exec(key);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

/** What is stored instead of the secret: SHA-256, hex (the secret is random, so no salt is needed). */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
