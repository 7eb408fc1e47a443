import type { CommandGroup } from "./types.js";

/** A command group as the help lists it. */
export interface GroupInfo {
  summary: string;
  commands: CommandGroup;
}

const GLOBAL_HELP = `Options of every command:
  --url URL             the gateway (env BERTH_URL, default http://127.0.0.1:8080)
  --api-key KEY         an API key (env BERTH_API_KEY)
  --retries N           retries of calls answered UNAVAILABLE (env BERTH_RETRIES, default 3)
  -o, --output FORMAT   table (default) or json: the API's protobuf JSON
  -h, --help            show help

Errors print one line (berth: CODE: message) and exit 1; usage mistakes exit 2.`;

/** The help of one command. */
export function commandHelp(
  group: string,
  verb: string,
  groups: Record<string, GroupInfo>,
): string {
  const command = groups[group]?.commands[verb];
  if (!command) return "";
  return (
    `Usage: berth ${group} ${verb} ${command.usage}`.trimEnd() +
    `\n\n${command.summary}.\n\n${GLOBAL_HELP}`
  );
}

/** The help of a group, or of everything when group is undefined. */
export function overviewHelp(groups: Record<string, GroupInfo>, only?: string): string {
  const lines = ["Usage: berth <group> <command> [arguments] [options]", ""];
  for (const [name, group] of Object.entries(groups)) {
    if (only && name !== only) continue;
    lines.push(`${group.summary}:`);
    for (const [verb, command] of Object.entries(group.commands)) {
      lines.push(`  berth ${name} ${verb} ${command.usage}`.trimEnd());
      lines.push(`      ${command.summary}`);
    }
    lines.push("");
  }
  lines.push(GLOBAL_HELP);
  return lines.join("\n");
}
