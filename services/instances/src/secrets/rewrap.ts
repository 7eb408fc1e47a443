import type { KeyRing, Logger } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { SecretEntity } from "../db/secret-entity.js";
import { openSecret, sealSecret } from "./secret-cipher.js";

const BATCH = 100;
const MAX_BATCHES = 1_000;

/**
 * Key rotation: re-seals under the active key every secret sealed with another configured key,
 * in bounded batches. Secrets under a key no longer configured are left alone and counted.
 */
export async function rewrapSecrets(orm: MikroORM, ring: KeyRing, logger: Logger): Promise<number> {
  const known = [...ring.byId.keys()].filter((id) => id !== ring.active.id);
  let rewrapped = 0;
  for (let batch = 0; batch < MAX_BATCHES && known.length > 0; batch += 1) {
    const em = orm.em.fork();
    const rows = await em.find(SecretEntity, { keyId: { $in: known } }, { limit: BATCH });
    if (rows.length === 0) break;
    for (const row of rows) {
      const value = openSecret(ring, row.instanceId, row.name, {
        keyId: row.keyId,
        nonce: Buffer.from(row.nonce),
        ciphertext: Buffer.from(row.ciphertext),
      });
      const sealed = sealSecret(ring, row.instanceId, row.name, value);
      Object.assign(row, { ...sealed, updatedAt: new Date() });
    }
    await em.flush();
    rewrapped += rows.length;
  }
  const orphaned = await orm.em
    .fork()
    .count(SecretEntity, { keyId: { $nin: [...ring.byId.keys()] } });
  if (rewrapped > 0) logger.info({ count: rewrapped, key_id: ring.active.id }, "secrets re-sealed");
  if (orphaned > 0)
    logger.error({ count: orphaned }, "secrets sealed with a key that is not configured");
  return rewrapped;
}
