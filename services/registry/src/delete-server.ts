import { failedPrecondition, recordEvent } from "@berth/platform";
import type { DeleteServerRequest } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import { UsageEntity } from "./db/usage-entity.js";
import { findServerRow } from "./find-server.js";
import { serverDeleted } from "./server-events.js";
import { checkRevision } from "./update-server.js";

/**
 * Deletes an entry and records McpServerDeleted; FAILED_PRECONDITION while instances use it
 * (as far as the instance events received so far tell).
 */
export async function deleteServer(orm: MikroORM, request: DeleteServerRequest): Promise<void> {
  await orm.em.fork().transactional(async (em) => {
    const row = await findServerRow(em, request.id, "id", true);
    checkRevision(row.revision, request.revision, row.name);
    const users = await em.count(UsageEntity, { serverId: row.id, deleted: false });
    if (users > 0) {
      throw failedPrecondition(
        `server ${JSON.stringify(row.name)} is used by ${users} instance(s); delete them first`,
      );
    }
    em.remove(row);
    recordEvent(em, serverDeleted(row.id, row.name, BigInt(row.revision)));
    await em.flush();
  });
}
