import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  type Logger,
  notFound,
} from "@berth/platform";
import {
  type TeamMember,
  TeamMemberSchema,
  TeamSchema,
  type TeamsService,
} from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import { DEFAULT_TEAM, TEAM_NAME_PATTERN } from "@berth/spec";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { recordGatewayChange } from "../audit/gateway-change.js";
import type { UserStore } from "../users/user-store.js";
import { roleFromProto, roleToProto } from "./roles.js";
import { authorize, isPlatformAdmin, principalOf } from "./team-access.js";
import type { MemberRow, TeamRow, TeamStore } from "./team-store.js";

/** What the teams handlers need. */
export interface TeamsDeps {
  store: TeamStore;
  users: UserStore;
  orm: MikroORM;
  /** Whether the team owns any instance (a team that does cannot be deleted). */
  hasInstances(team: string): Promise<boolean>;
  /** A user's memberships changed: cached ones must be read again. */
  onMembershipChanged(userId: string): void;
  logger: Logger;
}

const teamFromRow = (row: TeamRow) =>
  create(TeamSchema, {
    name: row.name,
    displayName: row.displayName,
    createTime: timestampFromDate(row.createTime),
  });

const memberFromRow = (row: MemberRow): TeamMember =>
  create(TeamMemberSchema, {
    user: row.userId,
    username: row.username,
    role: roleToProto(row.role),
    createTime: timestampFromDate(row.createTime),
  });

function required(field: string, value: string): void {
  if (value === "") throw invalidArgument([{ field, description: "is required" }]);
}

/** The TeamsService implementation; the access table decides who may call what. */
export function createTeamsHandlers(deps: TeamsDeps): ServiceImpl<typeof TeamsService> {
  const audit = (team: string, action: "created" | "deleted" | "updated", fields?: string[]) =>
    recordGatewayChange(deps.orm, {
      resourceType: "Team",
      resourceId: team,
      resourceName: team,
      action,
      revisionBefore: action === "created" ? 0n : 1n,
      revisionAfter: action === "deleted" ? 0n : 1n,
      ...(fields ? { changedFields: fields } : {}),
    });

  /** The team, when the caller may see it: a member, or a platform admin (NOT_FOUND otherwise). */
  const visibleTeam = async (ctx: HandlerContext, name: string, field: string) => {
    required(field, name);
    const principal = principalOf(ctx);
    const row = TEAM_NAME_PATTERN.test(name) ? await deps.store.get(name) : null;
    if (!row || (!principal.teams.has(name) && !isPlatformAdmin(principal))) {
      throw notFound("team", name);
    }
    return row;
  };

  const userOf = async (ref: string) => {
    required("user", ref);
    const user = await deps.users.find(ref);
    if (!user) throw notFound("user", ref);
    return user;
  };

  return {
    async createTeam(request) {
      const team = request.team;
      if (!team) throw invalidArgument([{ field: "team", description: "is required" }]);
      const violations: { field: string; description: string }[] = [];
      if (!TEAM_NAME_PATTERN.test(team.name)) {
        violations.push({
          field: "team.name",
          description: "must be 1 to 63 of a-z 0-9 -, starting with a letter",
        });
      }
      if (team.displayName.length > 255) {
        violations.push({
          field: "team.display_name",
          description: "must be at most 255 characters",
        });
      }
      if (violations.length > 0) throw invalidArgument(violations);
      const row = await deps.store.create(team.name, team.displayName.trim());
      if (!row) throw alreadyExists("team", team.name);
      await audit(row.name, "created");
      deps.logger.info({ team: row.name }, "team created");
      return { team: teamFromRow(row) };
    },

    async getTeam(request, ctx) {
      return { team: teamFromRow(await visibleTeam(ctx, request.name, "name")) };
    },

    async listTeams(_request, ctx) {
      const principal = principalOf(ctx);
      const rows = await deps.store.list(
        isPlatformAdmin(principal) ? undefined : [...principal.teams.keys()],
      );
      return { teams: rows.map(teamFromRow) };
    },

    async deleteTeam(request, ctx) {
      const row = await visibleTeam(ctx, request.name, "name");
      if (row.name === DEFAULT_TEAM) throw failedPrecondition("the default team cannot be deleted");
      const [instances, servers, keys] = await Promise.all([
        deps.hasInstances(row.name),
        deps.store.virtualServers(row.name),
        deps.store.activeKeys(row.name),
      ]);
      if (instances || servers > 0 || keys > 0) {
        throw failedPrecondition(
          `team ${JSON.stringify(row.name)} still owns instances, virtual servers or active API keys`,
        );
      }
      const members = await deps.store.members(row.name);
      if (!(await deps.store.delete(row.name))) throw notFound("team", row.name);
      for (const member of members) deps.onMembershipChanged(member.userId);
      await audit(row.name, "deleted");
      deps.logger.info({ team: row.name }, "team deleted");
      return {};
    },

    async listTeamMembers(request, ctx) {
      const row = await visibleTeam(ctx, request.team, "team");
      // Members are read by the team's members, and by the platform's admins who manage them.
      const principal = principalOf(ctx);
      if (!isPlatformAdmin(principal)) authorize(principal, row.name, "read", "team", row.name);
      return { members: (await deps.store.members(row.name)).map(memberFromRow) };
    },

    async setTeamMember(request, ctx) {
      const role = roleFromProto(request.role);
      if (!role) throw invalidArgument([{ field: "role", description: "is required" }]);
      const row = await visibleTeam(ctx, request.team, "team");
      authorize(principalOf(ctx), row.name, "manage", "team", row.name);
      const user = await userOf(request.user);
      const member = await deps.store.setMember(row.name, user.id, role);
      deps.onMembershipChanged(user.id);
      await audit(row.name, "updated", [`members.${user.username}`]);
      deps.logger.info({ team: row.name, user_id: user.id, role }, "team member set");
      return { member: memberFromRow(member) };
    },

    async removeTeamMember(request, ctx) {
      const row = await visibleTeam(ctx, request.team, "team");
      authorize(principalOf(ctx), row.name, "manage", "team", row.name);
      const user = await userOf(request.user);
      if (!(await deps.store.removeMember(row.name, user.id))) {
        throw notFound("team member", request.user);
      }
      deps.onMembershipChanged(user.id);
      await audit(row.name, "updated", [`members.${user.username}`]);
      deps.logger.info({ team: row.name, user_id: user.id }, "team member removed");
      return {};
    },
  };
}
