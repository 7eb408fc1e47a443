import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyRing } from "./key-ring.js";

/** A sealed secret as stored: the key id, a 12-byte nonce, and ciphertext with its 16-byte tag. */
export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

const TAG_BYTES = 16;

/** Binds a ciphertext to its slot, so a row copied to another instance or name fails to open. */
function associatedData(instanceId: string, name: string): Buffer {
  return Buffer.from(`berth.instance-secret.v1:${instanceId}:${name}`, "utf8");
}

/** Encrypts one secret value with the ring's active key (AES-256-GCM, random nonce). */
export function sealSecret(
  ring: KeyRing,
  instanceId: string,
  name: string,
  value: string,
): SealedSecret {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", ring.active.key, nonce);
  cipher.setAAD(associatedData(instanceId, name));
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return { keyId: ring.active.id, nonce, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
}

/** Decrypts one secret; throws (without the value) when the key is unknown or the data was altered. */
export function openSecret(
  ring: KeyRing,
  instanceId: string,
  name: string,
  sealed: SealedSecret,
): string {
  const key = ring.byId.get(sealed.keyId);
  if (!key)
    throw new Error(`secret ${name} is sealed with key id "${sealed.keyId}", not configured`);
  const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
  const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key.key, sealed.nonce);
  decipher.setAAD(associatedData(instanceId, name));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch (error) {
    throw new Error(`secret ${name} failed authentication (altered or wrong key)`, {
      cause: error,
    });
  }
}
