import { type KeyRing, openValue, type SealedValue, sealValue } from "@berth/platform";

/** A sealed secret as stored: the key id, a 12-byte nonce, and ciphertext with its 16-byte tag. */
export type SealedSecret = SealedValue;

/** Binds a ciphertext to its slot, so a row copied to another instance or name fails to open. */
function associatedData(instanceId: string, name: string): string {
  return `berth.instance-secret.v1:${instanceId}:${name}`;
}

/** Encrypts one secret value with the ring's active key (AES-256-GCM, random nonce). */
export function sealSecret(
  ring: KeyRing,
  instanceId: string,
  name: string,
  value: string,
): SealedSecret {
  return sealValue(ring, associatedData(instanceId, name), value);
}

/** Decrypts one secret; throws (without the value) when the key is unknown or the data was altered. */
export function openSecret(
  ring: KeyRing,
  instanceId: string,
  name: string,
  sealed: SealedSecret,
): string {
  return openValue(ring, associatedData(instanceId, name), sealed, `secret ${name}`);
}
