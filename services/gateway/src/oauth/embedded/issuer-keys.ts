import { hkdfSync, randomBytes } from "node:crypto";
import { type KeyRing, openValue, type SealedValue, sealValue } from "@berth/platform";
import type { MikroORM } from "@mikro-orm/postgresql";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

/** The embedded authorization server's keys: made on first start, the same on every replica. */
export interface IssuerKeys {
  /** The private signing key (ES256) as a JWK; never logged, never served (the JWKS is public). */
  signing: JWK;
  /** Keys that sign the server's cookies. */
  cookies: string[];
}

/** The setting that names the key ring the issuer keys are sealed with. */
export const KEY_RING_SETTING = "BERTH_OAUTH_KEY_ENCRYPTION_KEYS";

/** A row's value at rest: AES-256-GCM under the key ring, each part base64. */
export interface StoredSealed {
  sealed: { keyId: string; nonce: string; ciphertext: string };
}

const isSealed = (value: unknown): value is StoredSealed =>
  typeof value === "object" && value !== null && "sealed" in value;

/** Binds each ciphertext to its row: a sealed cookie key cannot be swapped in as the signing key. */
const contextOf = (name: string) => `berth.oauth-issuer-key.v1:${name}`;

function seal(ring: KeyRing, name: string, value: unknown): StoredSealed {
  const sealed = sealValue(ring, contextOf(name), JSON.stringify(value));
  return {
    sealed: {
      keyId: sealed.keyId,
      nonce: sealed.nonce.toString("base64"),
      ciphertext: sealed.ciphertext.toString("base64"),
    },
  };
}

/** Opens a row's sealed value (the key named `name`); throws naming the setting, never a value. */
export function openStoredIssuerKey(ring: KeyRing, name: string, stored: StoredSealed): unknown {
  const sealed: SealedValue = {
    keyId: stored.sealed.keyId,
    nonce: Buffer.from(stored.sealed.nonce, "base64"),
    ciphertext: Buffer.from(stored.sealed.ciphertext, "base64"),
  };
  try {
    return JSON.parse(openValue(ring, contextOf(name), sealed, `the OAuth ${name} key`));
  } catch (error) {
    // The message names the setting and the key id only: never key material.
    throw new Error(
      `${(error as Error).message}: set ${KEY_RING_SETTING} to the key ring the embedded authorization server's keys were sealed with`,
    );
  }
}

/**
 * The ring used when BERTH_OAUTH_KEY_ENCRYPTION_KEYS is not set: one key derived (HKDF-SHA256)
 * from the gateway's NATS password, a secret every gateway replica holds and the database does
 * not, so a copy of the database alone does not hold a usable signing key. `npm start` sets the
 * setting itself; production should too (rotating the NATS password otherwise strands the keys).
 */
export function derivedKeyRing(natsPassword: string): KeyRing {
  const key = Buffer.from(
    hkdfSync(
      "sha256",
      natsPassword,
      "berth.gateway",
      "berth.oauth-issuer-keys.v1",
      32,
    ) as ArrayBuffer,
  );
  const only = { id: "derived", key };
  return { active: only, byId: new Map([[only.id, only]]) };
}

async function freshSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: "ES256", use: "sig", kid: await calculateJwkThumbprint(jwk) };
}

const KEYS_TABLE = `"gateway"."oauth_keys"`;

/**
 * Loads the keys, making them the first time, sealed at rest under `ring` (AES-256-GCM). Rows
 * written in plaintext by an earlier version, or sealed under a key that is no longer the ring's
 * active one, are sealed again under the active key. Concurrent first starts agree: each inserts
 * its own only when none is stored, and each rewrite happens only if the row still holds what
 * was read, then everyone uses the one that won.
 */
export async function loadIssuerKeys(orm: MikroORM, ring: KeyRing): Promise<IssuerKeys> {
  const em = orm.em.fork();
  const candidates: Record<string, unknown> = {
    signing: await freshSigningKey(),
    cookies: [randomBytes(32).toString("base64url")],
  };
  for (const [name, value] of Object.entries(candidates)) {
    await em.execute(
      `insert into ${KEYS_TABLE} ("name", "value", "create_time") values (?, ?::jsonb, now())
       on conflict ("name") do nothing`,
      [name, JSON.stringify(seal(ring, name, value))],
    );
  }
  const rows = await em.execute<{ name: string; value: unknown }[]>(
    `select "name", "value" from ${KEYS_TABLE} where "name" in ('signing', 'cookies')`,
    [],
  );
  const stored: Record<string, unknown> = {};
  for (const row of rows) {
    const plain = isSealed(row.value) ? openStoredIssuerKey(ring, row.name, row.value) : row.value;
    if (!isSealed(row.value) || row.value.sealed.keyId !== ring.active.id) {
      await em.execute(
        `update ${KEYS_TABLE} set "value" = ?::jsonb where "name" = ? and "value" = ?::jsonb`,
        [JSON.stringify(seal(ring, row.name, plain)), row.name, JSON.stringify(row.value)],
      );
    }
    stored[row.name] = plain;
  }
  return { signing: stored.signing as JWK, cookies: stored.cookies as string[] };
}
