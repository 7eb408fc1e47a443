import { randomUUID } from "node:crypto";
import {
  alreadyExists,
  createEnvelope,
  currentCorrelationId,
  failpoint,
  type Logger,
  notFound,
  recordEvent,
} from "@berth/platform";
import { McpServerCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import type { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { ServerEntity } from "./db/server-entity.js";
import { rowFieldsFromServer, serverFromRow } from "./server-mapper.js";
import { validateServer } from "./server-validation.js";

/** What the registry's handlers need. */
export interface RegistryDeps {
  orm: MikroORM;
  /** Wakes the outbox relay after a commit that recorded events. */
  kickOutbox(): void;
  logger: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The RegistryService implementation (served over gRPC by the registry process). */
export function createRegistryHandlers(
  deps: RegistryDeps,
): Partial<ServiceImpl<typeof RegistryService>> {
  const findRow = (em: MikroORM["em"], idOrName: string) =>
    em.findOne(ServerEntity, UUID.test(idOrName) ? { id: idOrName } : { name: idOrName });

  return {
    async createServer(request) {
      validateServer(request.server);
      const fields = rowFieldsFromServer(request.server!);
      const em = deps.orm.em.fork();
      if (await em.count(ServerEntity, { name: fields.name }))
        throw alreadyExists("server", fields.name);
      const now = new Date();
      const row = em.create(ServerEntity, {
        id: randomUUID(),
        ...fields,
        revision: 1,
        createdAt: now,
        updatedAt: now,
      });
      const server = serverFromRow(row);
      await em.transactional(async (tx) => {
        tx.persist(row);
        recordEvent(
          tx,
          createEnvelope({
            schema: McpServerCreatedSchema,
            payload: create(McpServerCreatedSchema, { server }),
            aggregateType: "McpServer",
            aggregateId: row.id,
            aggregateVersion: 1n,
            source: "registry",
            correlationId: currentCorrelationId(),
          }),
        );
      });
      failpoint("outbox.after-commit");
      deps.kickOutbox();
      deps.logger.info({ server_id: row.id, name: row.name }, "server created");
      return { server };
    },

    async getServer(request) {
      const row = request.id ? await findRow(deps.orm.em.fork(), request.id) : null;
      if (!row) throw notFound("server", request.id);
      return { server: serverFromRow(row) };
    },
  };
}
