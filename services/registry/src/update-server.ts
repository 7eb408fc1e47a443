import { aborted, invalidArgument } from "@berth/platform";
import type {
  McpServer,
  UpdateServerRequest,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import { applyUpdateMask } from "./field-mask.js";
import { findServerRow } from "./find-server.js";
import { rowFieldsFromServer, serverFromRow } from "./server-mapper.js";
import { updateServerRow } from "./server-writes.js";
import { validateServer } from "./validation/server-validation.js";

/**
 * Applies an update under a row lock: a revision other than the current one is ABORTED (0 skips
 * the check), the merged entry is validated as a whole, and only a real change bumps the revision.
 */
export async function updateServer(
  orm: MikroORM,
  request: UpdateServerRequest,
): Promise<{ server: McpServer; changed: string[] }> {
  const patch = request.server;
  if (!patch) throw invalidArgument([{ field: "server", description: "is required" }]);
  return orm.em.fork().transactional(async (em) => {
    const row = await findServerRow(em, patch.id, "server.id", true);
    checkRevision(row.revision, patch.revision, row.name);
    const next = applyUpdateMask(serverFromRow(row), patch, request.updateMask);
    validateServer(next);
    const changed = await updateServerRow(em, row, rowFieldsFromServer(next));
    return { server: serverFromRow(row), changed };
  });
}

/** ABORTED when the caller's revision (0: none given) is not the stored one. */
export function checkRevision(stored: number, given: bigint, name: string): void {
  if (given !== 0n && BigInt(stored) !== given) {
    throw aborted(
      `server ${JSON.stringify(name)} is at revision ${stored}, not ${given}: read it again and retry`,
    );
  }
}
