import { defineEntity, type InferEntity } from "@mikro-orm/core";

/**
 * One user's delegated OAuth grant to a url instance's upstream, sealed like instance secrets
 * (AES-256-GCM; key_id names the key). `user` is the gateway's actor id of the person (`oauth_…`),
 * or "" for the OAuth client the gateway registered for the instance.
 */
export const UserGrantEntity = defineEntity({
  name: "UserGrantRow",
  tableName: "user_grants",
  properties: (p) => ({
    instanceId: p.uuid().primary(),
    user: p.string().primary(),
    keyId: p.string(),
    nonce: p.blob().columnType("bytea"),
    ciphertext: p.blob().columnType("bytea"),
    updatedAt: p.datetime().columnType("timestamptz"),
  }),
});

/** An encrypted user grant row. */
export type UserGrantRow = InferEntity<typeof UserGrantEntity>;
