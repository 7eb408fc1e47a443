import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyRing } from "./key-ring.js";

/** A sealed value as stored: the key id, a 12-byte nonce, and ciphertext with its 16-byte tag. */
export interface SealedValue {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

const TAG_BYTES = 16;

/**
 * Encrypts a value with the ring's active key (AES-256-GCM, random nonce). `context` is bound to
 * the ciphertext as associated data: a sealed value copied to another slot fails to open.
 */
export function sealValue(ring: KeyRing, context: string, value: string): SealedValue {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", ring.active.key, nonce);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return { keyId: ring.active.id, nonce, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
}

/**
 * Decrypts a sealed value. Throws (naming `label`, never the value) when its key is not in the
 * ring or the data or its context was altered.
 */
export function openValue(
  ring: KeyRing,
  context: string,
  sealed: SealedValue,
  label: string,
): string {
  const key = ring.byId.get(sealed.keyId);
  if (!key) throw new Error(`${label} is sealed with key id "${sealed.keyId}", not configured`);
  const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
  const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key.key, sealed.nonce);
  decipher.setAAD(Buffer.from(context, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch (error) {
    throw new Error(`${label} failed authentication (altered or wrong key)`, { cause: error });
  }
}
