import { readFile } from "node:fs/promises";
import {
  ImportServerResponseSchema,
  ListServersResponseSchema,
  type McpServer,
  McpServerSchema,
  paginate,
  ServerStatus,
  Transport,
} from "@berth/sdk";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { UsageError } from "../args.js";
import { enumName, formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { CommandGroup, Context } from "../types.js";

const one = { min: 1, max: 1 };

function printServer(ctx: Context, server: McpServer | undefined): void {
  if (!server) return;
  if (ctx.output === "json") {
    ctx.json(McpServerSchema, server);
    return;
  }
  const env = server.envSchema.map((v) => {
    const traits = [v.required ? "required" : "", v.secret ? "secret" : ""].filter(Boolean);
    return `${v.name}${traits.length ? ` (${traits.join(", ")})` : ""}`;
  });
  ctx.io.out(
    formatFields([
      ["name", server.name],
      ["id", server.id],
      ["title", server.title],
      ["description", server.description],
      ["version", server.version],
      ["status", enumName(ServerStatus, server.status)],
      ["transport", enumName(Transport, server.transport)],
      ["image", server.image],
      ["port", server.port ? String(server.port) : ""],
      ["path", server.path],
      ["env", env.join(", ")],
      ["remotes", server.remotes.map((r) => r.url).join(", ")],
      // Instances created without their own delegation get this one (json_spec.delegation).
      [
        "delegation",
        server.remotes[0]?.delegation ? JSON.stringify(server.remotes[0].delegation) : "",
      ],
      ["created", formatTime(server.createTime)],
    ]),
  );
}

/** `berth servers …`: the catalog. */
export const serversCommands: CommandGroup = {
  list: {
    usage: "[--query TEXT] [--tag TAG]",
    summary: "List the catalog entries",
    options: { query: { type: "string" }, tag: { type: "string" } },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const request = {
        pageSize: 100,
        query: String(values.query ?? ""),
        tag: String(values.tag ?? ""),
      };
      const servers: McpServer[] = [];
      for await (const s of paginate(ctx.berth.registry.listServers, request, (r) => r.servers)) {
        servers.push(s);
      }
      if (ctx.output === "json") {
        return ctx.json(ListServersResponseSchema, create(ListServersResponseSchema, { servers }));
      }
      const columns = [
        { header: "NAME", max: 50 },
        { header: "TRANSPORT" },
        { header: "STATUS" },
        { header: "IMAGE", max: 40 },
        { header: "ID" },
      ];
      const rows = servers.map((s) => [
        s.name,
        enumName(Transport, s.transport),
        enumName(ServerStatus, s.status),
        s.image || (s.remotes[0]?.url ?? ""),
        s.id,
      ]);
      ctx.io.out(formatTable(columns, rows));
    },
  },
  get: {
    usage: "<id|name>",
    summary: "Show one catalog entry",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      printServer(ctx, (await ctx.berth.registry.getServer({ id: positionals[0]! })).server);
    },
  },
  import: {
    usage: "<server.json|->",
    summary: "Import an official MCP registry server.json file (- reads standard input)",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const file = positionals[0]!;
      const text = await (file === "-" ? ctx.io.readStdin() : readFile(file, "utf8")).catch(
        (error: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read ${file}: ${error.code ?? error.message}`);
        },
      );
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch (error) {
        throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
      }
      if (typeof document !== "object" || document === null || Array.isArray(document)) {
        throw new UsageError(`${file} must hold a JSON object (a server.json document)`);
      }
      const response = await ctx.berth.registry.importServer({
        serverJson: document as JsonObject,
      });
      if (ctx.output === "json") {
        ctx.json(ImportServerResponseSchema, response);
        return;
      }
      const server = response.server;
      const what = response.changed ? "imported" : "unchanged:";
      ctx.io.out(`${what} ${server?.name} (${server?.id})`);
      for (const warning of response.warnings) ctx.io.out(`warning: ${warning}`);
    },
  },
  delete: {
    usage: "<id|name>",
    summary: "Delete a catalog entry (refused while instances use it)",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const { server } = await ctx.berth.registry.getServer({ id: positionals[0]! });
      await ctx.berth.registry.deleteServer({ id: server!.id });
      if (ctx.output === "json") ctx.io.out("{}");
      else ctx.io.out(`deleted ${server!.name} (${server!.id})`);
    },
  },
};
