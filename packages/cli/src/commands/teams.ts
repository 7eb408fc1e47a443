import {
  ListTeamMembersResponseSchema,
  ListTeamsResponseSchema,
  Role,
  type Team,
  type TeamMember,
  TeamMemberSchema,
  TeamSchema,
} from "@berth/sdk";
import { create } from "@bufbuild/protobuf";
import { UsageError } from "../args.js";
import { enumName, formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { CommandGroup, Context } from "../types.js";

const ROLES: Record<string, Role> = {
  viewer: Role.VIEWER,
  agent: Role.AGENT,
  editor: Role.EDITOR,
  admin: Role.ADMIN,
};

/** A --role word as a Role; a usage error naming the choices otherwise. */
export function parseRole(word: string | undefined): Role {
  const role = ROLES[(word ?? "").trim().toLowerCase()];
  if (role === undefined) {
    throw new UsageError(`--role must be viewer, agent, editor or admin (not "${word ?? ""}")`);
  }
  return role;
}

export const roleName = (role: Role) => enumName(Role, role).toLowerCase();

function printTeam(ctx: Context, team: Team | undefined): void {
  if (!team) return;
  if (ctx.output === "json") {
    ctx.json(TeamSchema, team);
    return;
  }
  ctx.io.out(
    formatFields([
      ["name", team.name],
      ["display name", team.displayName],
      ["created", formatTime(team.createTime)],
    ]),
  );
}

function printMember(ctx: Context, member: TeamMember | undefined): void {
  if (!member) return;
  if (ctx.output === "json") {
    ctx.json(TeamMemberSchema, member);
    return;
  }
  ctx.io.out(
    formatFields([
      ["user", member.user],
      ["username", member.username],
      ["role", roleName(member.role)],
    ]),
  );
}

/** `berth teams …`: teams own instances, virtual servers and API keys; members have a role. */
export const teamsCommands: CommandGroup = {
  create: {
    usage: "<name> [--display-name NAME]",
    summary: "Create a team (an admin of the default team)",
    options: { "display-name": { type: "string" } },
    positionals: { min: 1, max: 1 },
    async run(ctx, { values, positionals }) {
      const response = await ctx.berth.teams.createTeam({
        team: { name: positionals[0]!, displayName: String(values["display-name"] ?? "") },
      });
      printTeam(ctx, response.team);
    },
  },
  list: {
    usage: "",
    summary: "List the teams you are a member of",
    options: {},
    positionals: { min: 0, max: 0 },
    async run(ctx) {
      const { teams } = await ctx.berth.teams.listTeams({});
      if (ctx.output === "json") {
        return ctx.json(ListTeamsResponseSchema, create(ListTeamsResponseSchema, { teams }));
      }
      ctx.io.out(
        formatTable(
          [{ header: "NAME" }, { header: "DISPLAY NAME", max: 40 }, { header: "CREATED" }],
          teams.map((t) => [t.name, t.displayName, formatTime(t.createTime)]),
        ),
      );
    },
  },
  get: {
    usage: "<name>",
    summary: "Show a team",
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx, { positionals }) {
      printTeam(ctx, (await ctx.berth.teams.getTeam({ name: positionals[0]! })).team);
    },
  },
  delete: {
    usage: "<name>",
    summary: "Delete a team that owns nothing any more",
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx, { positionals }) {
      await ctx.berth.teams.deleteTeam({ name: positionals[0]! });
      ctx.note(`team ${positionals[0]} deleted`);
    },
  },
  members: {
    usage:
      "list <team> | add <team> <user> --role viewer|agent|editor|admin | remove <team> <user>",
    summary: "List a team's members, add one (or change their role), remove one",
    options: { role: { type: "string" } },
    positionals: { min: 2, max: 3 },
    async run(ctx, { values, positionals }) {
      const [verb, team, user] = positionals as [string, string, string | undefined];
      if (verb === "list") {
        const { members } = await ctx.berth.teams.listTeamMembers({ team });
        if (ctx.output === "json") {
          return ctx.json(
            ListTeamMembersResponseSchema,
            create(ListTeamMembersResponseSchema, { members }),
          );
        }
        ctx.io.out(
          formatTable(
            [{ header: "USER" }, { header: "USERNAME", max: 40 }, { header: "ROLE" }],
            members.map((m) => [m.user, m.username, roleName(m.role)]),
          ),
        );
        return;
      }
      if (user === undefined)
        throw new UsageError(`berth teams members ${verb} needs <team> <user>`);
      if (verb === "add") {
        const role = parseRole(values.role as string | undefined);
        printMember(ctx, (await ctx.berth.teams.setTeamMember({ team, user, role })).member);
        return;
      }
      if (verb === "remove") {
        await ctx.berth.teams.removeTeamMember({ team, user });
        ctx.note(`${user} removed from team ${team}`);
        return;
      }
      throw new UsageError(`berth teams members takes list, add or remove (not "${verb}")`);
    },
  },
};
