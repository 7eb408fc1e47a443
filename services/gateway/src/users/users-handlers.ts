import { alreadyExists, invalidArgument, type Logger, notFound } from "@berth/platform";
import {
  type User,
  UserSchema,
  type UsersService,
} from "@berth/proto/gen/berth/gateway/v1/users_pb";
import { DEFAULT_TEAM } from "@berth/spec";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { scopeName, scopeProto } from "../api-keys/api-key-mapper.js";
import { recordGatewayChange } from "../audit/gateway-change.js";
import { roleFromProto, roleOfScopes } from "../teams/roles.js";
import type { TeamStore } from "../teams/team-store.js";
import { hashPassword } from "./password.js";
import type { UserRow } from "./user-entity.js";
import type { UserStore } from "./user-store.js";

/** What the users handlers need. */
export interface UsersDeps {
  store: UserStore;
  /** Where a new user's first membership is stored. */
  teams: TeamStore;
  orm: MikroORM;
  /** Called after a user is deleted, so that no cache keeps trusting their tokens. */
  onDeleted(id: string): void;
  logger: Logger;
}

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;

/** The proto message of a stored user: never the password hash. */
export function userFromRow(row: UserRow): User {
  return create(UserSchema, {
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    scopes: row.scopes.map((s) => scopeProto(s)),
    createTime: timestampFromDate(row.createTime),
  });
}

function validate(user: User | undefined): asserts user is User {
  const violations: { field: string; description: string }[] = [];
  if (!user) throw invalidArgument([{ field: "user", description: "is required" }]);
  if (!USERNAME.test(user.username)) {
    violations.push({
      field: "user.username",
      description: "must be 1 to 64 of a-z 0-9 . _ - @, starting with a letter or digit",
    });
  }
  if (user.password.length < MIN_PASSWORD || user.password.length > MAX_PASSWORD) {
    violations.push({
      field: "user.password",
      description: `must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`,
    });
  }
  if (user.displayName.length > 255) {
    violations.push({ field: "user.display_name", description: "must be at most 255 characters" });
  }
  user.scopes.forEach((scope, i) => {
    if (!scopeName(scope)) {
      violations.push({ field: `user.scopes[${i}]`, description: "is not a known scope" });
    }
  });
  if (violations.length > 0) throw invalidArgument(violations);
}

function requireRef(id: string): void {
  if (id === "") throw invalidArgument([{ field: "id", description: "is required" }]);
}

/** The UsersService implementation, served in-process by the gateway (admin scope only). */
export function createUsersHandlers(deps: UsersDeps): ServiceImpl<typeof UsersService> {
  const audit = (row: UserRow, action: "created" | "deleted") =>
    recordGatewayChange(deps.orm, {
      resourceType: "User",
      resourceId: row.id,
      resourceName: row.username,
      action,
      revisionBefore: action === "created" ? 0n : 1n,
      revisionAfter: action === "created" ? 1n : 0n,
    });
  return {
    async createUser(request) {
      validate(request.user);
      const user = request.user;
      const scopes =
        user.scopes.length > 0 ? [...new Set(user.scopes.map((s) => scopeName(s)!))] : ["mcp"];
      const team = user.team || DEFAULT_TEAM;
      const role = roleFromProto(user.role) ?? roleOfScopes(scopes);
      if (!(await deps.teams.get(team))) {
        throw invalidArgument([
          { field: "user.team", description: `no team ${JSON.stringify(team)}` },
        ]);
      }
      const row = await deps.store.create({
        username: user.username,
        displayName: user.displayName.trim(),
        passwordHash: await hashPassword(user.password),
        scopes,
      });
      if (!row) throw alreadyExists("user", user.username);
      await deps.teams.setMember(team, row.id, role);
      await audit(row, "created");
      deps.logger.info({ user_id: row.id, username: row.username }, "user created");
      return { user: userFromRow(row) };
    },

    async getUser(request) {
      requireRef(request.id);
      const row = await deps.store.find(request.id);
      if (!row) throw notFound("user", request.id);
      return { user: userFromRow(row) };
    },

    async listUsers(request) {
      if (request.pageSize < 0 || request.pageSize > 1000) {
        throw invalidArgument([{ field: "page_size", description: "must be 0 to 1000" }]);
      }
      const page = await deps.store.list(request.pageSize || 50, request.pageToken);
      return { users: page.rows.map(userFromRow), nextPageToken: page.nextPageToken };
    },

    async deleteUser(request) {
      requireRef(request.id);
      const row = await deps.store.delete(request.id);
      if (!row) throw notFound("user", request.id);
      deps.onDeleted(row.id);
      await audit(row, "deleted");
      deps.logger.info({ user_id: row.id, username: row.username }, "user deleted");
      return {};
    },
  };
}
