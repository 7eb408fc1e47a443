import { hkdfSync } from "node:crypto";
import type { KeyRing } from "@berth/platform";
import type { EntityManager } from "@mikro-orm/postgresql";
import { SecretEntity } from "../db/secret-entity.js";
import { openSecret, sealSecret } from "./secret-cipher.js";

/** Encrypted storage of instance secrets; plaintext exists only in memory, never in a row. */
export interface SecretStore {
  /** Names stored for an instance. */
  names(em: EntityManager, instanceId: string): Promise<Set<string>>;
  /** Seals and upserts values inside the caller's transaction. */
  put(em: EntityManager, instanceId: string, values: ReadonlyMap<string, string>): Promise<void>;
  /** Opens every stored value of an instance. */
  open(em: EntityManager, instanceId: string): Promise<Record<string, string>>;
  /**
   * A key for fingerprints of requests that carry secret values (request ids), derived from the
   * active key so that the database never holds an unkeyed hash of a secret.
   */
  fingerprintKey: Buffer;
}

/** Creates the store over the instances schema with the configured key ring. */
export function createSecretStore(ring: KeyRing): SecretStore {
  return {
    fingerprintKey: Buffer.from(
      hkdfSync("sha256", ring.active.key, "", "berth request fingerprints", 32),
    ),
    async names(em, instanceId) {
      const rows = await em.find(SecretEntity, { instanceId }, { fields: ["name"] });
      return new Set(rows.map((row) => row.name));
    },
    async put(em, instanceId, values) {
      for (const [name, value] of values) {
        const sealed = sealSecret(ring, instanceId, name, value);
        await em.upsert(SecretEntity, {
          instanceId,
          name,
          keyId: sealed.keyId,
          nonce: sealed.nonce,
          ciphertext: sealed.ciphertext,
          updatedAt: new Date(),
        });
      }
    },
    async open(em, instanceId) {
      const rows = await em.find(SecretEntity, { instanceId }, { orderBy: { name: "asc" } });
      const values: Record<string, string> = {};
      for (const row of rows) {
        values[row.name] = openSecret(ring, instanceId, row.name, {
          keyId: row.keyId,
          nonce: Buffer.from(row.nonce),
          ciphertext: Buffer.from(row.ciphertext),
        });
      }
      return values;
    },
  };
}
