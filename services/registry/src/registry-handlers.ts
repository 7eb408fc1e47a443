import {
  createIdempotentWrites,
  createPreparedReads,
  failpoint,
  type Logger,
} from "@berth/platform";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import type { JsonObject } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { ServerEntity } from "./db/server-entity.js";
import { deleteServer } from "./delete-server.js";
import { exportServerJson } from "./export-server.js";
import { readServerRow } from "./find-server.js";
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
  // Writes with a request id answer a retry with the first call's response (AIP-155).
  const writes = createIdempotentWrites({ orm, logger });
  const { method } = RegistryService;
  const reads = createPreparedReads(orm, ServerEntity);

  return {
    async createServer(request) {
      validateServer(request.server);
      const fields = rowFieldsFromServer(request.server!);
      const { response, replayed } = await writes.run({
        method: method.createServer,
        request,
        execute: async (db) => ({
          server: await db.em.fork().transactional((em) => insertServer(em, fields)),
        }),
      });
      if (replayed) return response;
      committed();
      logger.info(
        { server_id: response.server?.id, name: response.server?.name },
        "server created",
      );
      return response;
    },

    async getServer(request) {
      return { server: serverFromRow(await readServerRow(reads, request.id, "id")) };
    },

    async listServers(request) {
      return listServers(orm.em.fork(), request);
    },

    async updateServer(request) {
      let changed: string[] = [];
      const { response, replayed } = await writes.run({
        method: method.updateServer,
        request,
        execute: async (db) => {
          const outcome = await updateServer(db, request);
          changed = outcome.changed;
          return { server: outcome.server };
        },
      });
      if (!replayed && changed.length > 0) {
        committed();
        logger.info({ server_id: response.server?.id, changed }, "server updated");
      }
      return response;
    },

    async deleteServer(request) {
      const { replayed } = await writes.run({
        method: method.deleteServer,
        request,
        execute: async (db) => {
          await deleteServer(db, request);
          return {};
        },
      });
      if (replayed) return {};
      committed();
      logger.info({ server: request.id }, "server deleted");
      return {};
    },

    async importServer(request) {
      // protobuf-es gives a google.protobuf.Struct field as plain JSON.
      const doc = requireDocument(request.serverJson);
      const { response, replayed } = await writes.run({
        method: method.importServer,
        request,
        execute: (db) => importServerJson(db, doc),
      });
      if (!replayed && response.changed) {
        committed();
        logger.info(
          { server_id: response.server?.id, name: response.server?.name },
          "server imported",
        );
      }
      return response;
    },

    async exportServer(request) {
      return { serverJson: (await exportServerJson(orm, request.id)) as JsonObject };
    },
  };
}
