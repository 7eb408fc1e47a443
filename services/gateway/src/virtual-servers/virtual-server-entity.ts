import { defineEntity, type InferEntity } from "@mikro-orm/core";
import type { MemberSpec } from "./member-policy.js";

/** A virtual server row in the gateway schema; members are bound to instance ids. */
export const VirtualServerEntity = defineEntity({
  name: "VirtualServerRow",
  tableName: "virtual_servers",
  properties: (p) => ({
    id: p.uuid().primary(),
    name: p.string(),
    /** The owning team (its name). */
    team: p.string().default("default"),
    description: p.string().default(""),
    members: p.json<MemberSpec[]>().columnType("jsonb"),
    revision: p.integer().default(1),
    createTime: p.datetime().columnType("timestamptz"),
    updateTime: p.datetime().columnType("timestamptz"),
  }),
});

/** A virtual server row. */
export type VirtualServerRow = InferEntity<typeof VirtualServerEntity>;
