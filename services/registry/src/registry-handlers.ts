import { failpoint, type Logger } from "@berth/platform";
import type { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { JsonObject } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { deleteServer } from "./delete-server.js";
import { exportServerJson } from "./export-server.js";
import { findServerRow } from "./find-server.js";
import { importServerJson, requireDocument } from "./import-server.js";
import { listServers } from "./list-servers.js";
import { rowFieldsFromServer, serverFromRow } from "./server-mapper.js";
import { insertServer } from "./server-writes.js";
import { updateServer } from "./update-server.js";
import { validateServer } from "./validation/server-validation.js";

/** What the registry's handlers need. */
export interface RegistryDeps {
  orm: MikroORM;
  /** Wakes the outbox relay after a commit that recorded events. */
  kickOutbox(): void;
  logger: Logger;
}

/** The RegistryService implementation (served over gRPC by the registry process). */
export function createRegistryHandlers(deps: RegistryDeps): ServiceImpl<typeof RegistryService> {
  const { orm, logger } = deps;
  const committed = () => {
    failpoint("outbox.after-commit");
    deps.kickOutbox();
  };

  return {
    async createServer(request) {
      validateServer(request.server);
      const fields = rowFieldsFromServer(request.server!);
      const server = await orm.em.fork().transactional((em) => insertServer(em, fields));
      committed();
      logger.info({ server_id: server.id, name: server.name }, "server created");
      return { server };
    },

    async getServer(request) {
      return { server: serverFromRow(await findServerRow(orm.em.fork(), request.id, "id")) };
    },

    async listServers(request) {
      return listServers(orm.em.fork(), request);
    },

    async updateServer(request) {
      const { server, changed } = await updateServer(orm, request);
      if (changed.length > 0) {
        committed();
        logger.info({ server_id: server.id, changed }, "server updated");
      }
      return { server };
    },

    async deleteServer(request) {
      await deleteServer(orm, request);
      committed();
      logger.info({ server: request.id }, "server deleted");
      return {};
    },

    async importServer(request) {
      // protobuf-es gives a google.protobuf.Struct field as plain JSON.
      const doc = requireDocument(request.serverJson);
      const outcome = await importServerJson(orm, doc);
      if (outcome.changed) {
        committed();
        logger.info({ server_id: outcome.server.id, name: outcome.server.name }, "server imported");
      }
      return outcome;
    },

    async exportServer(request) {
      return { serverJson: (await exportServerJson(orm, request.id)) as JsonObject };
    },
  };
}
