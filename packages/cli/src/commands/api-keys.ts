import {
  type ApiKey,
  ApiKeySchema,
  ApiKeyScope,
  ApiKeyState,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  paginate,
  Role,
} from "@berth/sdk";
import { create } from "@bufbuild/protobuf";
import { UsageError } from "../args.js";
import { enumName, formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { CommandGroup, Context } from "../types.js";
import { parseRole, roleName } from "./teams.js";

const SCOPES: Record<string, ApiKeyScope> = {
  admin: ApiKeyScope.ADMIN,
  write: ApiKeyScope.WRITE,
  read: ApiKeyScope.READ,
  mcp: ApiKeyScope.MCP,
  metrics: ApiKeyScope.METRICS,
};

/** Scope words (admin, write, read, mcp, metrics) as enum values. */
export function parseScopes(list: unknown): ApiKeyScope[] {
  const words = ((list as string[] | undefined) ?? []).flatMap((w) => w.split(","));
  if (words.length === 0)
    throw new UsageError("--scope is required (admin, write, read, mcp or metrics)");
  return words.map((word) => {
    const scope = SCOPES[word.trim().toLowerCase()];
    if (scope === undefined) {
      throw new UsageError(`--scope must be admin, write, read, mcp or metrics (not "${word}")`);
    }
    return scope;
  });
}

/** --virtual-server NAME or NAME=tool,pattern*: the virtual servers (and tools) a key may use. */
export function parseGrants(list: unknown): Array<{ virtualServer: string; tools: string[] }> {
  return ((list as string[] | undefined) ?? []).map((item) => {
    const at = item.indexOf("=");
    const virtualServer = (at === -1 ? item : item.slice(0, at)).trim();
    if (virtualServer === "") throw new UsageError("--virtual-server needs a name or id");
    const tools =
      at === -1
        ? []
        : item
            .slice(at + 1)
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean);
    return { virtualServer, tools };
  });
}

const scopeNames = (key: ApiKey) =>
  key.scopes.map((s) => enumName(ApiKeyScope, s).toLowerCase()).join(",");

function printKey(ctx: Context, key: ApiKey | undefined, secret?: string): void {
  if (!key) return;
  if (ctx.output === "json") {
    ctx.json(ApiKeySchema, key);
    return;
  }
  ctx.io.out(
    formatFields([
      ["id", key.id],
      ["name", key.displayName],
      ["team", key.team],
      ["role", key.role ? roleName(key.role) : ""],
      ["scopes", scopeNames(key)],
      ["instances", key.instances.join(", ")],
      [
        "virtual servers",
        key.virtualServers
          .map((g) =>
            g.tools.length > 0 ? `${g.virtualServer}=${g.tools.join(",")}` : g.virtualServer,
          )
          .join(" "),
      ],
      ["state", enumName(ApiKeyState, key.state)],
      ["created", formatTime(key.createTime)],
      ["revoked", formatTime(key.revokeTime)],
      ["key", secret],
    ]),
  );
}

/** `berth api-keys …`: the keys callers present to the gateway (needs an admin key). */
export const apiKeysCommands: CommandGroup = {
  create: {
    usage:
      "--name NAME (--role viewer|agent|editor|admin | --scope admin|write|read|mcp...) [--team NAME] [--instance <id|name>]... [--virtual-server <id|name>[=TOOL,PATTERN*]]...",
    summary: "Create an API key; the key itself is printed once, never again",
    options: {
      name: { type: "string" },
      scope: { type: "string", multiple: true },
      team: { type: "string" },
      role: { type: "string" },
      instance: { type: "string", multiple: true },
      "virtual-server": { type: "string", multiple: true },
    },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      if (!values.name) throw new UsageError("--name is required");
      const response = await ctx.berth.apiKeys.createApiKey({
        apiKey: {
          displayName: String(values.name),
          // With a role, scopes are optional: the gateway gives the ones that carry it.
          scopes: values.role && !values.scope ? [] : parseScopes(values.scope),
          team: String(values.team ?? ""),
          role: values.role ? parseRole(String(values.role)) : Role.UNSPECIFIED,
          instances: (values.instance as string[] | undefined) ?? [],
          virtualServers: parseGrants(values["virtual-server"]),
        },
      });
      if (ctx.output === "json") {
        ctx.json(CreateApiKeyResponseSchema, response);
        return;
      }
      printKey(ctx, response.apiKey, response.key);
      ctx.note("Keep the key now: Berth stores only its hash and cannot show it again.");
    },
  },
  list: {
    usage: "",
    summary: "List API keys, newest first",
    options: {},
    positionals: { min: 0, max: 0 },
    async run(ctx) {
      const apiKeys: ApiKey[] = [];
      const list = ctx.berth.apiKeys.listApiKeys;
      for await (const key of paginate(list, { pageSize: 100 }, (r) => r.apiKeys)) {
        apiKeys.push(key);
      }
      if (ctx.output === "json") {
        return ctx.json(ListApiKeysResponseSchema, create(ListApiKeysResponseSchema, { apiKeys }));
      }
      const columns = [
        { header: "ID" },
        { header: "NAME", max: 40 },
        { header: "SCOPES" },
        { header: "STATE" },
        { header: "CREATED" },
      ];
      const rows = apiKeys.map((k) => [
        k.id,
        k.displayName,
        scopeNames(k),
        enumName(ApiKeyState, k.state),
        formatTime(k.createTime),
      ]);
      ctx.io.out(formatTable(columns, rows));
    },
  },
  revoke: {
    usage: "<id>",
    summary: "Revoke an API key: from now on it is refused",
    options: {},
    positionals: { min: 1, max: 1 },
    async run(ctx, { positionals }) {
      printKey(ctx, (await ctx.berth.apiKeys.revokeApiKey({ id: positionals[0]! })).apiKey);
    },
  },
};
