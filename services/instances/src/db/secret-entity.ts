import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** One encrypted secret value of an instance (AES-256-GCM; key_id names the key that sealed it). */
export const SecretEntity = defineEntity({
  name: "InstanceSecretRow",
  tableName: "instance_secrets",
  properties: (p) => ({
    instanceId: p.uuid().primary(),
    name: p.string().primary(),
    keyId: p.string(),
    nonce: p.blob().columnType("bytea"),
    ciphertext: p.blob().columnType("bytea"),
    updatedAt: p.datetime().columnType("timestamptz"),
  }),
});

/** An encrypted secret row. */
export type SecretRow = InferEntity<typeof SecretEntity>;
