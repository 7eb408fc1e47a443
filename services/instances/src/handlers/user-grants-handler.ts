import type { KeyRing } from "@berth/platform";
import { failedPrecondition, invalidArgument, type Logger, notFound } from "@berth/platform";
import type { UserGrantsService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { DELEGATION_CLIENT_SECRET, formatSecretRef, isObject } from "@berth/spec";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { InstanceEntity } from "../db/instance-entity.js";
import { SecretEntity } from "../db/secret-entity.js";
import { UserGrantEntity } from "../db/user-grant-entity.js";
import { openSecret, sealSecret } from "../secrets/secret-cipher.js";
import { UUID } from "../validation/instance-fields.js";

/** What the user grants service needs. */
export interface UserGrantsDeps {
  orm: MikroORM;
  ring: KeyRing;
  logger: Logger;
}

// The gateway's actor ids (`oauth_` and hex), or "" for the instance's registered client.
const USER = /^(|oauth_[0-9a-f]{16})$/;
const MAX_GRANT = 65_536;

/**
 * The slot a grant is sealed to: bound to the instance and the user by the cipher's associated
 * data, and apart from every secret name (those never hold a colon), so that a row copied to
 * another user, instance or secret fails to open.
 */
const slot = (user: string) => `user-grant:${user}`;

function check(instanceId: string, user: string, required: boolean): void {
  const violations: { field: string; description: string }[] = [];
  if ((required || instanceId !== "") && !UUID.test(instanceId))
    violations.push({ field: "instance_id", description: "must be an instance id" });
  if (!USER.test(user))
    violations.push({ field: "user", description: 'must be an actor id (oauth_…) or ""' });
  if (violations.length > 0) throw invalidArgument(violations);
}

/**
 * UserGrantsService: the gateway, and only the gateway (MESH_POLICY), keeps each user's delegated
 * upstream grant here. The instances service owns sealed values and the key ring, so grants are
 * sealed with the same envelope as instance secrets, re-sealed on key rotation by nothing else
 * (a grant is short-lived: one under a key no longer configured fails to open and the user
 * connects again), and deleted with their instance by the table's foreign key.
 */
export function createUserGrantsHandlers(
  deps: UserGrantsDeps,
): ServiceImpl<typeof UserGrantsService> {
  return {
    async putUserGrant(request) {
      check(request.instanceId, request.user, true);
      if (request.grant === "" || request.grant.length > MAX_GRANT)
        throw invalidArgument([
          { field: "grant", description: `must be 1 to ${MAX_GRANT} characters` },
        ]);
      const em = deps.orm.em.fork();
      const instance = await em.findOne(InstanceEntity, { id: request.instanceId });
      if (!instance || instance.status === "DELETING")
        throw notFound("instance", request.instanceId);
      const sealed = sealSecret(deps.ring, request.instanceId, slot(request.user), request.grant);
      await em.upsert(UserGrantEntity, {
        instanceId: request.instanceId,
        user: request.user,
        keyId: sealed.keyId,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        updatedAt: new Date(),
      });
      deps.logger.info(
        { instance_id: request.instanceId, user: request.user || "(client)" },
        "user grant stored",
      );
      return {};
    },

    async getUserGrant(request) {
      check(request.instanceId, request.user, true);
      const row = await deps.orm.em
        .fork()
        .findOne(UserGrantEntity, { instanceId: request.instanceId, user: request.user });
      if (!row) return { found: false, grant: "" };
      try {
        const grant = openSecret(deps.ring, row.instanceId, slot(row.user), {
          keyId: row.keyId,
          nonce: Buffer.from(row.nonce),
          ciphertext: Buffer.from(row.ciphertext),
        });
        return { found: true, grant };
      } catch (error) {
        // A grant that cannot be opened (its key is gone) is as good as none: connect again.
        deps.logger.warn(
          { instance_id: row.instanceId, user: row.user, reason: (error as Error).message },
          "a user grant could not be opened",
        );
        return { found: false, grant: "" };
      }
    },

    async getDelegationClientSecret(request) {
      if (!UUID.test(request.instanceId))
        throw invalidArgument([{ field: "instance_id", description: "must be an instance id" }]);
      const em = deps.orm.em.fork();
      const instance = await em.findOne(InstanceEntity, { id: request.instanceId });
      if (!instance || instance.status === "DELETING")
        throw notFound("instance", request.instanceId);
      // Only the secret the instance's delegation names: the gateway reads no other value.
      const delegation = isObject(instance.jsonSpec) ? instance.jsonSpec.delegation : undefined;
      const ref = formatSecretRef(instance.id, DELEGATION_CLIENT_SECRET);
      if (!isObject(delegation) || delegation.client_secret !== ref)
        throw failedPrecondition(
          `instance ${instance.id} has no delegation client secret (json_spec.delegation.client_secret)`,
        );
      const row = await em.findOne(SecretEntity, {
        instanceId: instance.id,
        name: DELEGATION_CLIENT_SECRET,
      });
      if (!row)
        throw failedPrecondition(`instance ${instance.id} has no ${DELEGATION_CLIENT_SECRET}`);
      const clientSecret = openSecret(deps.ring, instance.id, DELEGATION_CLIENT_SECRET, {
        keyId: row.keyId,
        nonce: Buffer.from(row.nonce),
        ciphertext: Buffer.from(row.ciphertext),
      });
      deps.logger.info(
        { instance_id: instance.id },
        "delegation client secret opened for the gateway",
      );
      return { clientSecret };
    },

    async deleteUserGrants(request) {
      check(request.instanceId, request.user, false);
      if (request.instanceId === "" && request.user === "")
        throw invalidArgument([
          { field: "instance_id", description: "instance_id or user is required" },
        ]);
      const where = {
        ...(request.instanceId ? { instanceId: request.instanceId } : {}),
        ...(request.user ? { user: request.user } : {}),
      };
      const deleted = await deps.orm.em.fork().nativeDelete(UserGrantEntity, where);
      if (deleted > 0) deps.logger.info({ ...where, count: deleted }, "user grants deleted");
      return { deleted };
    },
  };
}
