import { DesiredState, type McpServerInstance, paginate } from "@berth/sdk";
import type { JsonObject } from "@bufbuild/protobuf";
import { parseAssignments, UsageError } from "../args.js";
import type { CommandGroup, Context } from "../types.js";
import { instanceConnectionCommands } from "./instance-connections.js";
import { instanceOperations } from "./instance-operations.js";
import { printInstance, printInstances, reportChange, WAIT_OPTIONS } from "./instance-view.js";
import { goneGoal, runningGoal, stoppedGoal } from "./wait.js";

const one = { min: 1, max: 1 };
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Secret values of --secret NAME=VALUE flags; a bare NAME reads its value from the terminal
 * without echo, or from standard input (so it stays out of shell history). No message ever holds
 * a value.
 */
async function secretValues(ctx: Context, list: unknown): Promise<Record<string, string>> {
  const items = (list as string[] | undefined) ?? [];
  const bare = items.filter((item) => !item.includes("="));
  if (bare.length > 1) {
    throw new UsageError("only one --secret NAME (without =VALUE) may read standard input");
  }
  const values = parseAssignments(
    items.filter((item) => item.includes("=")),
    "secret",
  );
  for (const name of bare) {
    if (!NAME.test(name)) throw new UsageError("--secret needs NAME=VALUE or NAME");
    if (name in values) throw new UsageError(`--secret ${name} is given twice`);
    values[name] = await ctx.io.readSecret(name);
  }
  return values;
}

/** A JSON object from --spec. */
function specFrom(text: unknown): JsonObject {
  if (text === undefined) return {};
  try {
    const spec = JSON.parse(String(text)) as unknown;
    if (typeof spec === "object" && spec !== null && !Array.isArray(spec))
      return spec as JsonObject;
  } catch {
    // reported below
  }
  throw new UsageError("--spec must be a JSON object (the instance's json_spec)");
}

/** `berth instances …`: configured instances of catalog entries. */
export const instancesCommands: CommandGroup = {
  create: {
    usage:
      "<name> --server <id|name> [--team NAME] [--env NAME=VALUE]... [--secret NAME=VALUE]... [--spec JSON] [--description TEXT] [--stopped] [--wait] [--timeout 120]",
    summary: "Create an instance of a catalog entry (secrets are stored encrypted, never shown)",
    options: {
      server: { type: "string" },
      team: { type: "string" },
      env: { type: "string", multiple: true },
      secret: { type: "string", multiple: true },
      spec: { type: "string" },
      description: { type: "string" },
      stopped: { type: "boolean" },
      ...WAIT_OPTIONS,
    },
    positionals: one,
    async run(ctx, args) {
      const { values, positionals } = args;
      if (!values.server && !values.spec) throw new UsageError("--server is required");
      const spec = specFrom(values.spec);
      const env = parseAssignments(values.env, "env");
      if (Object.keys(env).length > 0) {
        spec.environment = { ...((spec.environment as JsonObject | undefined) ?? {}), ...env };
      }
      const secrets = await secretValues(ctx, values.secret);
      const { instance } = await ctx.berth.instances.createInstance({
        instance: {
          name: positionals[0]!,
          serverId: String(values.server ?? ""),
          team: String(values.team ?? ""),
          description: String(values.description ?? ""),
          jsonSpec: spec,
          desiredState: values.stopped ? DesiredState.STOPPED : DesiredState.RUNNING,
        },
        secrets,
      });
      if (values.wait && ctx.output !== "json")
        ctx.note(`created ${instance?.name} (${instance?.id})`);
      const goal = values.stopped ? stoppedGoal : runningGoal(ctx);
      await reportChange(ctx, args, instance, goal);
    },
  },
  list: {
    usage: "[--server <id>] [--team NAME]...",
    summary: "List instances (of your teams)",
    options: { server: { type: "string" }, team: { type: "string", multiple: true } },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const request = {
        pageSize: 100,
        serverId: String(values.server ?? ""),
        teams: (values.team as string[] | undefined) ?? [],
      };
      const all: McpServerInstance[] = [];
      const list = ctx.berth.instances.listInstances;
      for await (const i of paginate(list, request, (r) => r.instances)) all.push(i);
      printInstances(ctx, all);
    },
  },
  get: {
    usage: "<id|name>",
    summary: "Show one instance",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      printInstance(ctx, (await ctx.berth.instances.getInstance({ id: positionals[0]! })).instance);
    },
  },
  delete: {
    usage: "<id|name> [--wait] [--timeout 120]",
    summary: "Delete an instance; --wait until the runtime removed its workload",
    options: { ...WAIT_OPTIONS },
    positionals: one,
    async run(ctx, args) {
      const { instance } = await ctx.berth.instances.deleteInstance({ id: args.positionals[0]! });
      await reportChange(ctx, args, instance, goneGoal);
    },
  },
  "set-secret": {
    usage: "<id|name> --secret NAME=VALUE... [--wait] [--timeout 120]",
    summary: "Replace secret values (a new generation replaces the workload)",
    options: { secret: { type: "string", multiple: true }, ...WAIT_OPTIONS },
    positionals: one,
    async run(ctx, args) {
      const secrets = await secretValues(ctx, args.values.secret);
      const names = Object.keys(secrets);
      if (names.length === 0) throw new UsageError("--secret is required");
      let instance: McpServerInstance | undefined;
      for (const name of names) {
        const id = instance?.id ?? args.positionals[0]!;
        ({ instance } = await ctx.berth.instances.setInstanceSecret({
          id,
          name,
          value: secrets[name]!,
        }));
        if (ctx.output !== "json") ctx.note(`set ${name} on ${instance?.name}`);
      }
      await reportChange(ctx, args, instance, runningGoal(ctx, instance?.generation ?? 0n));
    },
  },
  ...instanceOperations,
  ...instanceConnectionCommands,
};
