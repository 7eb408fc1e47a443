import { notFound } from "@berth/platform";
import type { McpServer } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { JsonObject } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { InstanceEntity, type InstanceRow } from "../db/instance-entity.js";
import { stableJson } from "../validation/instance-fields.js";
import type { Problems } from "../validation/problems.js";
import { buildSpec } from "../validation/spec-builder.js";
import { type InstancesDeps, keyWhere } from "./deps.js";

/** The catalog entry of a stored instance, read before the transaction (no lock held over gRPC). */
export async function serverOf(
  deps: InstancesDeps,
  idOrName: string,
): Promise<McpServer | undefined> {
  const row = await deps.orm.em.fork().findOne(InstanceEntity, keyWhere(idOrName));
  if (!row) throw notFound("instance", idOrName);
  return row.serverId ? deps.lookup.find(row.serverId) : undefined;
}

/** Rebuilds the spec with new input and secrets; returns the values to seal. */
export async function rebuildSpec(
  deps: InstancesDeps,
  em: EntityManager,
  row: InstanceRow,
  input: { raw: JsonObject | undefined; secrets: Record<string, string>; givenAt: string },
  server: McpServer | undefined,
  problems: Problems,
) {
  if (row.serverId && !server)
    problems.add("instance.server_id", `server "${row.serverId}" is no longer in the registry`);
  const secrets = {
    instanceId: row.id,
    given: input.secrets,
    givenAt: input.givenAt,
    stored: await deps.secrets.names(em, row.id),
    toStore: new Map<string, string>(),
  };
  const at = "instance.json_spec";
  const built = buildSpec({ raw: input.raw, at, server, policy: deps.policy, secrets }, problems);
  if (built.type === "docker" && !row.serverId)
    problems.add("instance.server_id", "is required for docker instances");
  return { built, toStore: secrets.toStore };
}

/** Applies a rebuilt spec and sealed secrets; true when the spec or a secret changed. */
export async function applySpec(
  deps: InstancesDeps,
  em: EntityManager,
  row: InstanceRow,
  built: { type: "docker" | "url" | undefined; spec: JsonObject },
  toStore: Map<string, string>,
): Promise<boolean> {
  const specChanged = stableJson(built.spec) !== stableJson(row.jsonSpec);
  if (!specChanged && toStore.size === 0) return false;
  row.jsonSpec = built.spec;
  row.specType = built.type!;
  await deps.secrets.put(em, row.id, toStore);
  return true;
}
