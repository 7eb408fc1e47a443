import { Code, ConnectError, notFound } from "@berth/platform";
import type { McpServer } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { PreconditionFailureSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import type { Problems } from "@berth/spec";
import { create, type JsonObject } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { InstanceEntity, type InstanceRow } from "../db/instance-entity.js";
import { stableJson } from "../validation/instance-fields.js";
import { reroutedSecrets } from "../validation/secret-routing.js";
import { buildSpec, checkResolvedEndpoint } from "../validation/spec-builder.js";
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
  await checkResolvedEndpoint(built, at, deps.policy, problems);
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

/**
 * Refuses a spec change that would deliver sealed values somewhere new (a url endpoint, a
 * header, a docker image, command, args or user) unless each of them is supplied again with
 * the change: a caller who may write but never saw a value must not be able to redirect it.
 */
export function assertNoSecretReroute(
  row: InstanceRow,
  built: { spec: JsonObject },
  supplied: ReadonlyMap<string, string>,
): void {
  for (const { field, names } of reroutedSecrets(row.jsonSpec, built.spec)) {
    const missing = names.filter((name) => !supplied.has(name));
    if (missing.length === 0) continue;
    const path = `instance.json_spec.${field}`;
    const again = missing.map((name) => `secrets.${name}`).join(", ");
    const description = `${path} would send the sealed value of ${missing.join(", ")} somewhere new; supply it again (${again}) with this change`;
    throw new ConnectError(description, Code.FailedPrecondition, undefined, [
      {
        desc: PreconditionFailureSchema,
        value: create(PreconditionFailureSchema, {
          violations: [{ type: "SECRET_NOT_RESUPPLIED", subject: path, description }],
        }),
      },
    ]);
  }
}
