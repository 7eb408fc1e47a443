import {
  Code,
  ConnectError,
  createIdempotentWrites,
  invalidArgument,
  type Logger,
  notFound,
} from "@berth/platform";
import { type ApiKey, ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import type { ServiceImpl } from "@connectrpc/connect";
import { recordGatewayChange } from "../audit/gateway-change.js";
import { credentialOf, fromHeaders } from "../auth/credential.js";
import { roleCovers, roleFromProto, roleOfScopes, scopesOfRole } from "../teams/roles.js";
import {
  authorize,
  isPlatformAdmin,
  principalOf,
  roleFor,
  teamForNew,
  teamsWhere,
} from "../teams/team-access.js";
import { apiKeyFromRow, newApiKeyFrom, scopeName, scopeProto } from "./api-key-mapper.js";
import { type ApiKeyStore, createApiKeyStore } from "./api-key-store.js";
import { validateNewApiKey } from "./api-key-validation.js";
import { parseApiKey } from "./key-format.js";

/** What the API key handlers need. */
export interface ApiKeysDeps {
  store: ApiKeyStore;
  /** Called after a revocation so that no cache keeps trusting the key. */
  onRevoked(id: string): void;
  /** The id of the instance an id or a name names now; undefined when there is none. */
  resolveInstance(ref: string): Promise<string | undefined>;
  /** The id of the virtual server an id or a name names now; undefined when there is none. */
  resolveVirtualServer(ref: string): Promise<string | undefined>;
  logger: Logger;
}

const KEY_ID = /^[0-9a-f]{16}$/;

function requireId(id: string): void {
  if (id === "") throw invalidArgument([{ field: "id", description: "is required" }]);
  if (!KEY_ID.test(id)) throw notFound("api key", id);
}

/**
 * An allow-list as instance ids: names are resolved now, once, so that the key never follows a
 * name to another instance (a deleted one's name reused). Unknown entries are INVALID_ARGUMENT.
 */
async function bindInstances(refs: readonly string[], deps: ApiKeysDeps): Promise<string[]> {
  const ids = await Promise.all(refs.map((ref) => deps.resolveInstance(ref)));
  const violations = refs.flatMap((ref, i) =>
    ids[i] === undefined
      ? [{ field: `api_key.instances[${i}]`, description: `no instance ${JSON.stringify(ref)}` }]
      : [],
  );
  if (violations.length > 0) throw invalidArgument(violations);
  return [...new Set(ids as string[])];
}

/** Virtual server grants as ids, resolved once like instance allow-lists; unknown ones refused. */
async function bindVirtualServers(key: ApiKey, deps: ApiKeysDeps): Promise<void> {
  const ids = await Promise.all(
    key.virtualServers.map((g) => deps.resolveVirtualServer(g.virtualServer)),
  );
  const violations = key.virtualServers.flatMap((g, i) =>
    ids[i] === undefined
      ? [
          {
            field: `api_key.virtual_servers[${i}].virtual_server`,
            description: `no virtual server ${JSON.stringify(g.virtualServer)}`,
          },
        ]
      : [],
  );
  if (violations.length > 0) throw invalidArgument(violations);
  key.virtualServers.forEach((g, i) => {
    g.virtualServer = ids[i]!;
  });
}

/** Records a key's change in the audit trail, on the write's own database (its transaction). */
function auditKeyChange(
  orm: ApiKeysDeps["store"]["orm"],
  key: { id: string; displayName: string },
  action: "created" | "revoked",
): Promise<void> {
  return recordGatewayChange(orm, {
    resourceType: "ApiKey",
    resourceId: key.id,
    resourceName: key.displayName,
    action,
    // Keys have no revision of their own: created is 1, revoked is 2.
    revisionBefore: action === "created" ? 0n : 1n,
    revisionAfter: action === "created" ? 1n : 2n,
  });
}

/** The ApiKeysService implementation, served in-process by the gateway (admin scope only). */
export function createApiKeysHandlers(deps: ApiKeysDeps): ServiceImpl<typeof ApiKeysService> {
  // With a request id a write runs on a store inside the transaction that records the id.
  const writes = createIdempotentWrites({ orm: deps.store.orm, logger: deps.logger });
  const storeOn = (orm: typeof deps.store.orm) =>
    orm === deps.store.orm ? deps.store : createApiKeyStore(orm);
  const { method } = ApiKeysService;

  return {
    async createApiKey(request, context) {
      const principal = principalOf(context);
      const given = request.apiKey;
      // A role alone gives the scopes that carry it; scopes alone, the role they stood for.
      const askedRole = given ? roleFromProto(given.role) : undefined;
      if (given && askedRole && given.scopes.length === 0) {
        given.scopes = scopesOfRole(askedRole).map((s) => scopeProto(s));
      }
      validateNewApiKey(request.apiKey);
      const team = teamForNew(principal, request.apiKey.team, "manage");
      const role = askedRole ?? roleOfScopes(request.apiKey.scopes.map((s) => scopeName(s)!));
      const creatorRole = roleFor(principal, team, "manage");
      if (!creatorRole || !roleCovers(creatorRole, role)) {
        throw new ConnectError(
          `a key cannot have the ${role} role: its creator is ${creatorRole ?? "no member"} in team ${JSON.stringify(team)}`,
          Code.PermissionDenied,
        );
      }
      request.apiKey.instances = await bindInstances(request.apiKey.instances, deps);
      await bindVirtualServers(request.apiKey, deps);
      const caller = parseApiKey(credentialOf(fromHeaders(context.requestHeader)) ?? "");
      const { response, replayed } = await writes.run({
        method: method.createApiKey,
        request,
        execute: async (orm) => {
          const input = newApiKeyFrom(request.apiKey!, caller?.id ?? "", team, role);
          const { row, key } = await storeOn(orm).create(input);
          await auditKeyChange(orm, row, "created");
          return { apiKey: apiKeyFromRow(row), key };
        },
        // The secret is never stored: a replay names the key it created but cannot show it again.
        remembered: (response) => {
          response.key = "";
          return response;
        },
      });
      if (!replayed) {
        deps.logger.info({ api_key_id: response.apiKey?.id, by: caller?.id }, "api key created");
      }
      return response;
    },

    async getApiKey(request, context) {
      requireId(request.id);
      const row = await deps.store.get(request.id);
      if (!row) throw notFound("api key", request.id);
      authorize(principalOf(context), row.team, "manage", "api key", request.id);
      return { apiKey: apiKeyFromRow(row) };
    },

    async listApiKeys(request, context) {
      if (request.pageSize < 0) {
        throw invalidArgument([{ field: "page_size", description: "must not be negative" }]);
      }
      const pageSize = Math.min(request.pageSize || 50, 500);
      const caller = principalOf(context);
      const teams = isPlatformAdmin(caller) ? undefined : teamsWhere(caller, "manage");
      const page = await deps.store.list(pageSize, request.pageToken, teams);
      const now = new Date();
      return {
        apiKeys: page.rows.map((row) => apiKeyFromRow(row, now)),
        nextPageToken: page.nextPageToken,
      };
    },

    async revokeApiKey(request, context) {
      requireId(request.id);
      const existing = await deps.store.get(request.id);
      if (!existing) throw notFound("api key", request.id);
      authorize(principalOf(context), existing.team, "manage", "api key", request.id);
      const { response, replayed } = await writes.run({
        method: method.revokeApiKey,
        request,
        execute: async (orm) => {
          const store = storeOn(orm);
          const before = await store.get(request.id);
          const row = await store.revoke(request.id);
          if (!row) throw notFound("api key", request.id);
          if (before && !before.revokeTime) await auditKeyChange(orm, row, "revoked");
          return { apiKey: apiKeyFromRow(row) };
        },
      });
      // Telling the caches again on a replay is harmless and covers a crash before the first time.
      deps.onRevoked(request.id);
      if (!replayed) deps.logger.info({ api_key_id: request.id }, "api key revoked");
      return response;
    },
  };
}
