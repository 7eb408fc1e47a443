import {
  createIdempotentWrites,
  type FieldViolation,
  invalidArgument,
  type Logger,
  notFound,
} from "@berth/platform";
import {
  type VirtualServer,
  VirtualServersService,
} from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { recordGatewayChange } from "../audit/gateway-change.js";
import { authorize, principalOf, teamForNew, teamsWhere } from "../teams/team-access.js";
import type { MemberSpec } from "./member-policy.js";
import { memberSpecOf, virtualServerFromRow } from "./virtual-server-mapper.js";
import {
  type AfterVirtualServerWrite,
  createVirtualServerStore,
  type VirtualServerChange,
  type VirtualServerStore,
} from "./virtual-server-store.js";
import {
  checkNamespaces,
  checkVirtualServerFields,
  collect,
  VIRTUAL_SERVER_NAME,
} from "./virtual-server-validation.js";

/** What the virtual server handlers need. */
export interface VirtualServersDeps {
  store: VirtualServerStore;
  /** The id and name of the instance an id or a name names now; undefined when there is none. */
  resolveInstance(ref: string): Promise<{ id: string; name: string; team: string } | undefined>;
  /** Called after a change or deletion, so that open MCP sessions follow it. */
  onChanged(id: string): void;
  logger: Logger;
}

const MUTABLE = ["description", "members"] as const;
const REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$|^[0-9a-f-]{36}$/i;

function requireRef(id: string): void {
  if (id === "") throw invalidArgument([{ field: "id", description: "is required" }]);
  if (!REF.test(id) && !VIRTUAL_SERVER_NAME.test(id)) throw notFound("virtual server", id);
}

/**
 * The members as stored: each instance bound by id now (names resolved once, so a member never
 * follows a name to another instance), then the namespace rule checked. INVALID_ARGUMENT names
 * every bad field; nothing is written.
 */
async function bindMembers(
  vs: VirtualServer,
  team: string,
  deps: VirtualServersDeps,
): Promise<MemberSpec[]> {
  // Only the team's own instances: another team's are as unknown as missing ones.
  const found = (await Promise.all(vs.members.map((m) => deps.resolveInstance(m.instance)))).map(
    (instance) => (instance?.team === team ? instance : undefined),
  );
  const violations: FieldViolation[] = vs.members.flatMap((m, i) =>
    found[i]
      ? []
      : [
          {
            field: `virtual_server.members[${i}].instance`,
            description: `no instance ${JSON.stringify(m.instance)}`,
          },
        ],
  );
  if (violations.length > 0) throw invalidArgument(violations);
  const members = vs.members.map((m, i) => memberSpecOf(m, found[i]!));
  const clashes = collect((add) => checkNamespaces(members, "virtual_server", add));
  if (clashes.length > 0) throw invalidArgument(clashes);
  return members;
}

/**
 * Records the change in the audit trail inside the write's transaction: the calling key, the
 * revisions before and after (0 after a delete: the virtual server is gone) and what changed.
 */
const audited =
  (orm: MikroORM, action: "created" | "updated" | "deleted"): AfterVirtualServerWrite =>
  (em, row, revisionBefore, changedFields) =>
    recordGatewayChange(
      orm,
      {
        resourceType: "VirtualServer",
        resourceId: row.id,
        resourceName: row.name,
        action,
        revisionBefore: BigInt(revisionBefore),
        revisionAfter: action === "deleted" ? 0n : BigInt(row.revision),
        changedFields,
      },
      em,
    );

/** The VirtualServersService implementation, served in-process by the gateway. */
export function createVirtualServersHandlers(
  deps: VirtualServersDeps,
): ServiceImpl<typeof VirtualServersService> {
  const writes = createIdempotentWrites({ orm: deps.store.orm, logger: deps.logger });
  const storeOn = (orm: typeof deps.store.orm) =>
    orm === deps.store.orm ? deps.store : createVirtualServerStore(orm);
  const { method } = VirtualServersService;

  return {
    async createVirtualServer(request, context) {
      const vs = request.virtualServer;
      if (!vs) throw invalidArgument([{ field: "virtual_server", description: "is required" }]);
      const team = teamForNew(principalOf(context), vs.team, "write");
      const all = new Set(["name", "description", "members"]);
      const violations = collect((add) => checkVirtualServerFields(vs, "virtual_server", all, add));
      if (violations.length > 0) throw invalidArgument(violations);
      const members = await bindMembers(vs, team, deps);
      const { response, replayed } = await writes.run({
        method: method.createVirtualServer,
        request,
        execute: async (orm) => {
          const row = await storeOn(orm).create(
            { name: vs.name, team, description: vs.description, members },
            audited(orm, "created"),
          );
          return { virtualServer: virtualServerFromRow(row) };
        },
      });
      if (!replayed)
        deps.logger.info(
          { virtual_server_id: response.virtualServer?.id },
          "virtual server created",
        );
      return response;
    },

    async getVirtualServer(request, context) {
      requireRef(request.id);
      const row = await deps.store.find(request.id);
      if (!row) throw notFound("virtual server", request.id);
      authorize(principalOf(context), row.team, "read", "virtual server", request.id);
      return { virtualServer: virtualServerFromRow(row) };
    },

    async listVirtualServers(request, context) {
      if (request.pageSize < 0)
        throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
      const page = await deps.store.list(
        Math.min(request.pageSize || 50, 500),
        request.pageToken,
        teamsWhere(principalOf(context), "read"),
      );
      return {
        virtualServers: page.rows.map(virtualServerFromRow),
        nextPageToken: page.nextPageToken,
      };
    },

    async updateVirtualServer(request, context) {
      const vs = request.virtualServer;
      if (!vs?.id)
        throw invalidArgument([{ field: "virtual_server.id", description: "is required" }]);
      requireRef(vs.id);
      const existing = await deps.store.find(vs.id);
      if (!existing) throw notFound("virtual server", vs.id);
      authorize(principalOf(context), existing.team, "write", "virtual server", vs.id);
      const given = request.updateMask?.paths ?? [];
      const violations = given
        .filter((path) => !MUTABLE.includes(path as never))
        .map((path) => ({
          field: "update_mask",
          description: `${path} cannot be updated (allowed: ${MUTABLE.join(", ")})`,
        }));
      const paths = new Set<string>(given);
      if (given.length === 0) {
        if (vs.description !== "") paths.add("description");
        if (vs.members.length > 0) paths.add("members");
      }
      violations.push(
        ...collect((add) => checkVirtualServerFields(vs, "virtual_server", paths, add)),
      );
      if (violations.length > 0) throw invalidArgument(violations);
      const change: VirtualServerChange = {};
      if (paths.has("description")) change.description = vs.description;
      if (paths.has("members")) change.members = await bindMembers(vs, existing.team, deps);
      const { response } = await writes.run({
        method: method.updateVirtualServer,
        request,
        execute: async (orm) => {
          const row = await storeOn(orm).update(
            vs.id,
            vs.revision,
            change,
            audited(orm, "updated"),
          );
          return { virtualServer: virtualServerFromRow(row) };
        },
      });
      deps.onChanged(response.virtualServer!.id);
      return response;
    },

    async deleteVirtualServer(request, context) {
      requireRef(request.id);
      const existing = await deps.store.find(request.id);
      if (!existing) throw notFound("virtual server", request.id);
      authorize(principalOf(context), existing.team, "write", "virtual server", request.id);
      let deletedId: string | undefined;
      const { response, replayed } = await writes.run({
        method: method.deleteVirtualServer,
        request,
        execute: async (orm) => {
          const row = await storeOn(orm).delete(
            request.id,
            request.revision,
            audited(orm, "deleted"),
          );
          deletedId = row.id;
          return {};
        },
      });
      // After the commit: the sessions look the virtual server up again and find it gone.
      if (deletedId) deps.onChanged(deletedId);
      if (!replayed) deps.logger.info({ virtual_server: request.id }, "virtual server deleted");
      return response;
    },
  };
}
