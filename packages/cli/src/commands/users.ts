import {
  ApiKeyScope,
  ListUsersResponseSchema,
  paginate,
  Role,
  type User,
  UserSchema,
} from "@berth/sdk";
import { create } from "@bufbuild/protobuf";
import { UsageError } from "../args.js";
import { enumName, formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { CommandGroup, Context } from "../types.js";
import { parseScopes } from "./api-keys.js";
import { parseRole } from "./teams.js";

const scopeNames = (user: User) =>
  user.scopes.map((s) => enumName(ApiKeyScope, s).toLowerCase()).join(",");

function printUser(ctx: Context, user: User | undefined): void {
  if (!user) return;
  if (ctx.output === "json") {
    ctx.json(UserSchema, user);
    return;
  }
  ctx.io.out(
    formatFields([
      ["id", user.id],
      ["username", user.username],
      ["name", user.displayName],
      ["scopes", scopeNames(user)],
      ["created", formatTime(user.createTime)],
    ]),
  );
}

/** `berth users …`: people who sign in to the embedded authorization server (admin key). */
export const usersCommands: CommandGroup = {
  create: {
    usage:
      "<username> [--display-name NAME] [--scope mcp|read|write|admin|metrics]... [--team NAME --role viewer|agent|editor|admin]",
    summary:
      "Create a user who signs in with a password (typed at a prompt, or read from standard input)",
    options: {
      "display-name": { type: "string" },
      scope: { type: "string", multiple: true },
      team: { type: "string" },
      role: { type: "string" },
    },
    positionals: { min: 1, max: 1 },
    async run(ctx, { values, positionals }) {
      const password = await ctx.io.readSecret("password");
      if (password === "") throw new UsageError("a password is required");
      const response = await ctx.berth.users.createUser({
        user: {
          username: positionals[0]!,
          displayName: String(values["display-name"] ?? ""),
          password,
          scopes: values.scope === undefined ? [] : parseScopes(values.scope),
          team: String(values.team ?? ""),
          role: values.role ? parseRole(String(values.role)) : Role.UNSPECIFIED,
        },
      });
      printUser(ctx, response.user);
    },
  },
  list: {
    usage: "",
    summary: "List users, newest first",
    options: {},
    positionals: { min: 0, max: 0 },
    async run(ctx) {
      const users: User[] = [];
      for await (const user of paginate(
        ctx.berth.users.listUsers,
        { pageSize: 100 },
        (r) => r.users,
      )) {
        users.push(user);
      }
      if (ctx.output === "json") {
        return ctx.json(ListUsersResponseSchema, create(ListUsersResponseSchema, { users }));
      }
      const columns = [
        { header: "ID" },
        { header: "USERNAME", max: 40 },
        { header: "SCOPES" },
        { header: "CREATED" },
      ];
      ctx.io.out(
        formatTable(
          columns,
          users.map((u) => [u.id, u.username, scopeNames(u), formatTime(u.createTime)]),
        ),
      );
    },
  },
  delete: {
    usage: "<id|username>",
    summary: "Delete a user: their sign-ins, refresh tokens and access tokens stop working",
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx, { positionals }) {
      await ctx.berth.users.deleteUser({ id: positionals[0]! });
      ctx.note(`user ${positionals[0]} deleted`);
    },
  },
};
