import { failedPrecondition, invalidArgument, type Logger, notFound } from "@berth/platform";
import type { InstanceSecretsService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { InstanceEntity } from "../db/instance-entity.js";
import type { SecretStore } from "../secrets/secret-store.js";
import { UUID } from "../validation/instance-fields.js";

/** What the internal secrets service needs. */
export interface SecretsHandlerDeps {
  orm: MikroORM;
  secrets: SecretStore;
  logger: Logger;
}

/**
 * InstanceSecretsService: the runtime, and only the runtime, resolves the secret values of one
 * instance. Served on the instances port, never through the gateway; the mesh policy of the gRPC
 * server (MESH_POLICY in @berth/platform) admits only the runtime's certificate to it.
 */
export function createSecretsHandlers(
  deps: SecretsHandlerDeps,
): Partial<ServiceImpl<typeof InstanceSecretsService>> {
  return {
    async resolveInstanceSecrets(request) {
      if (!UUID.test(request.instanceId))
        throw invalidArgument([{ field: "instance_id", description: "must be an instance id" }]);
      const em = deps.orm.em.fork();
      const row = await em.findOne(InstanceEntity, { id: request.instanceId });
      if (!row) throw notFound("instance", request.instanceId);
      if (row.status === "DELETING")
        throw failedPrecondition(`instance ${row.id} is being deleted`);
      const generation = BigInt(row.generation);
      if (request.generation !== 0n && request.generation !== generation)
        throw failedPrecondition(
          `generation ${request.generation} is not current (the instance is at ${generation})`,
        );
      const values = await deps.secrets.open(em, row.id);
      deps.logger.info(
        { instance_id: row.id, generation: row.generation, count: Object.keys(values).length },
        "secrets resolved for the runtime",
      );
      return { values, generation };
    },
  };
}
