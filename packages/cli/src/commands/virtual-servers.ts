import { readFile } from "node:fs/promises";
import {
  ListVirtualServersResponseSchema,
  paginate,
  type VirtualServer,
  VirtualServerSchema,
} from "@berth/sdk";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { UsageError } from "../args.js";
import { formatTime } from "../format.js";
import { formatFields, formatTable } from "../table.js";
import type { CommandGroup, Context } from "../types.js";

const one = { min: 1, max: 1 };

/**
 * A virtual server from a JSON file (- reads standard input), in the API's JSON form:
 * `{"name": "...", "description": "...", "members": [{"instance": "...", "prefix": "...", ...}]}`.
 * Returns it with the top-level fields the file sets (the update mask of `update`).
 */
async function readVirtualServer(
  ctx: Context,
  file: unknown,
): Promise<{ vs: VirtualServer; fields: string[] }> {
  if (typeof file !== "string") throw new UsageError("--file is required (a JSON file, or -)");
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
    throw new UsageError(`${file} must hold a JSON object (a virtual server)`);
  }
  try {
    const vs = fromJson(VirtualServerSchema, document as JsonValue);
    return { vs, fields: Object.keys(document) };
  } catch (error) {
    throw new UsageError(`${file} is not a virtual server: ${(error as Error).message}`);
  }
}

function printVirtualServer(ctx: Context, vs: VirtualServer | undefined): void {
  if (!vs) return;
  if (ctx.output === "json") {
    ctx.json(VirtualServerSchema, vs);
    return;
  }
  ctx.io.out(
    formatFields([
      ["id", vs.id],
      ["name", vs.name],
      ["description", vs.description],
      ["endpoint", `${ctx.url}${vs.endpoint}`],
      ["revision", String(vs.revision)],
      ["created", formatTime(vs.createTime)],
      ["updated", formatTime(vs.updateTime)],
    ]),
  );
  const columns = [
    { header: "INSTANCE" },
    { header: "NAMESPACE" },
    { header: "ALLOW", max: 30 },
    { header: "DENY", max: 30 },
    { header: "OVERRIDES", max: 40 },
  ];
  const rows = vs.members.map((m) => [
    m.instanceName || m.instance,
    m.prefix ? `${m.prefix}${m.separator}` : "(none)",
    m.allowTools.join(",") || "*",
    m.denyTools.join(","),
    m.toolOverrides.map((o) => (o.name ? `${o.tool}→${o.name}` : o.tool)).join(","),
  ]);
  ctx.io.out(formatTable(columns, rows));
}

/** The revision given with --revision (0: no check). */
function revisionOf(value: unknown): bigint {
  if (value === undefined) return 0n;
  if (!/^\d+$/.test(String(value))) throw new UsageError("--revision must be a whole number");
  return BigInt(String(value));
}

/** `berth virtual-servers …`: several instances as one MCP endpoint at /mcp/v/{name}. */
export const virtualServersCommands: CommandGroup = {
  create: {
    usage: "--file <virtual-server.json|->",
    summary: "Create a virtual server from a JSON file (members, namespaces, tool policy)",
    options: { file: { type: "string" } },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const { vs } = await readVirtualServer(ctx, values.file);
      const created = await ctx.berth.virtualServers.createVirtualServer({ virtualServer: vs });
      printVirtualServer(ctx, created.virtualServer);
    },
  },
  list: {
    usage: "",
    summary: "List virtual servers, newest first",
    options: {},
    positionals: { min: 0, max: 0 },
    async run(ctx) {
      const all: VirtualServer[] = [];
      const list = ctx.berth.virtualServers.listVirtualServers;
      for await (const vs of paginate(list, { pageSize: 100 }, (r) => r.virtualServers))
        all.push(vs);
      if (ctx.output === "json") {
        return ctx.json(
          ListVirtualServersResponseSchema,
          create(ListVirtualServersResponseSchema, { virtualServers: all }),
        );
      }
      const columns = [
        { header: "NAME", max: 40 },
        { header: "MEMBERS", max: 60 },
        { header: "REVISION" },
        { header: "ENDPOINT" },
      ];
      const rows = all.map((vs) => [
        vs.name,
        vs.members.map((m) => m.instanceName || m.instance).join(","),
        String(vs.revision),
        vs.endpoint,
      ]);
      ctx.io.out(formatTable(columns, rows));
    },
  },
  get: {
    usage: "<id|name>",
    summary: "Show one virtual server and its members",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const { virtualServer } = await ctx.berth.virtualServers.getVirtualServer({
        id: positionals[0]!,
      });
      printVirtualServer(ctx, virtualServer);
    },
  },
  update: {
    usage: "<id|name> --file <virtual-server.json|-> [--revision N]",
    summary: "Replace the description and/or members the file sets (--revision: only if current)",
    options: { file: { type: "string" }, revision: { type: "string" } },
    positionals: one,
    async run(ctx, { values, positionals }) {
      const { vs, fields } = await readVirtualServer(ctx, values.file);
      const paths = fields.filter((f) => f === "description" || f === "members");
      if (paths.length === 0) throw new UsageError("the file sets neither description nor members");
      vs.id = positionals[0]!;
      vs.revision = values.revision === undefined ? vs.revision : revisionOf(values.revision);
      const updated = await ctx.berth.virtualServers.updateVirtualServer({
        virtualServer: vs,
        updateMask: { paths },
      });
      printVirtualServer(ctx, updated.virtualServer);
    },
  },
  delete: {
    usage: "<id|name> [--revision N]",
    summary: "Delete a virtual server; its MCP sessions end",
    options: { revision: { type: "string" } },
    positionals: one,
    async run(ctx, { values, positionals }) {
      await ctx.berth.virtualServers.deleteVirtualServer({
        id: positionals[0]!,
        revision: revisionOf(values.revision),
      });
      if (ctx.output === "json") ctx.io.out("{}");
      else ctx.io.out(`deleted ${positionals[0]}`);
    },
  },
};
