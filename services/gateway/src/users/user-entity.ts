import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** A person who signs in to the embedded authorization server; the password only as its hash. */
export const UserEntity = defineEntity({
  name: "UserRow",
  tableName: "users",
  properties: (p) => ({
    id: p.uuid().primary(),
    username: p.string().unique(),
    displayName: p.string().default(""),
    passwordHash: p.string(),
    /** The most a token of this user may carry (key scope names). */
    scopes: p.json<string[]>().columnType("jsonb"),
    createTime: p.datetime().columnType("timestamptz"),
  }),
});

/** A user row. */
export type UserRow = InferEntity<typeof UserEntity>;
