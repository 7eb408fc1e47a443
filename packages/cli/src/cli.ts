import { createBerthClient } from "@berth/sdk";
import { toJson } from "@bufbuild/protobuf";
import { parseCommandArgs, splitCommand, UsageError } from "./args.js";
import { apiKeysCommands } from "./commands/api-keys.js";
import { auditCommands } from "./commands/audit.js";
import { authCommands } from "./commands/auth.js";
import { deadLettersCommands } from "./commands/dead-letters.js";
import { instancesCommands } from "./commands/instances.js";
import { serversCommands } from "./commands/servers.js";
import { teamsCommands } from "./commands/teams.js";
import { usersCommands } from "./commands/users.js";
import { virtualServersCommands } from "./commands/virtual-servers.js";
import { describeFailure } from "./errors.js";
import { commandHelp, type GroupInfo, overviewHelp } from "./help.js";
import { storedAccessToken } from "./oauth-login.js";
import { retryOptions } from "./retries.js";
import type { CliIo, Context, OutputFormat } from "./types.js";

/** Where the CLI goes without --url or BERTH_URL: what `npm start` serves. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

const GROUPS: Record<string, GroupInfo> = {
  servers: { summary: "Catalog (registry)", commands: serversCommands },
  instances: { summary: "Instances", commands: instancesCommands },
  "virtual-servers": {
    summary: "Virtual servers: several instances as one MCP endpoint",
    commands: virtualServersCommands,
  },
  "api-keys": { summary: "API keys (admin)", commands: apiKeysCommands },
  teams: { summary: "Teams, their members and roles", commands: teamsCommands },
  users: { summary: "Users who sign in with OAuth (admin)", commands: usersCommands },
  auth: { summary: "Sign in with OAuth (berth login, berth logout)", commands: authCommands },
  "dead-letters": { summary: "Refused events (admin)", commands: deadLettersCommands },
  audit: { summary: "Who called what, who changed what (admin)", commands: auditCommands },
};

function wantsHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

function checkedUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError("--url (or BERTH_URL) must be a URL such as http://127.0.0.1:8080");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError("--url (or BERTH_URL) must start with http:// or https://");
  }
  return raw.replace(/\/+$/, "");
}

/** Runs one `berth …` command line; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let url = io.env.BERTH_URL || DEFAULT_URL;
  let apiKeyGiven = false;
  try {
    // `berth login` and `berth logout` are `berth auth login|logout`.
    const words0 = argv[0] === "login" || argv[0] === "logout" ? ["auth", ...argv] : argv;
    const { words, rest } = splitCommand(words0);
    const [groupName, verb] = words;
    const help = wantsHelp(rest);
    if (!groupName) {
      if (help) {
        io.out(overviewHelp(GROUPS));
        return 0;
      }
      io.err(overviewHelp(GROUPS));
      return 2;
    }
    const group = GROUPS[groupName];
    if (!group) throw new UsageError(`unknown command "${groupName}"`);
    if (!verb && help) {
      io.out(overviewHelp(GROUPS, groupName));
      return 0;
    }
    const verbs = Object.keys(group.commands).join(", ");
    if (!verb) throw new UsageError(`berth ${groupName} needs a command: ${verbs}`);
    const command = group.commands[verb];
    if (!command) throw new UsageError(`unknown command "${groupName} ${verb}" (${verbs})`);
    if (help) {
      io.out(commandHelp(groupName, verb, GROUPS));
      return 0;
    }

    const args = parseCommandArgs(rest, command.options, command.positionals);
    url = checkedUrl(String(args.values.url ?? (io.env.BERTH_URL || DEFAULT_URL)));
    const apiKey = String(args.values["api-key"] ?? io.env.BERTH_API_KEY ?? "");
    apiKeyGiven = apiKey !== "";
    const output = String(args.values.output ?? "table");
    if (output !== "table" && output !== "json") {
      throw new UsageError("--output must be table or json");
    }
    // Calls the gateway answers UNAVAILABLE are retried by the SDK (writes with a request id, so
    // once); when it gives up, the error says after how many attempts.
    const retry = retryOptions(
      args.values.retries === undefined ? io.env.BERTH_RETRIES : String(args.values.retries),
    );
    const ctx: Context = {
      berth: createBerthClient({
        baseUrl: url,
        retry,
        ...(apiKeyGiven ? { apiKey } : {}),
        // Without a key: the token `berth login` kept for this gateway, if any.
        ...(apiKeyGiven ? {} : await tokenFor(url, io.env)),
      }),
      io,
      output: output as OutputFormat,
      url,
      json: (schema, message, compact) =>
        io.out(JSON.stringify(toJson(schema, message), null, compact ? undefined : 2)),
      note: (text) => (output === "json" ? io.err(text) : io.out(text)),
    };
    await command.run(ctx, args);
    return 0;
  } catch (error) {
    const { lines, exitCode } = describeFailure(error, { url, apiKeyGiven });
    for (const line of lines) io.err(line);
    return exitCode;
  }
}

async function tokenFor(url: string, env: Record<string, string | undefined>) {
  const token = await storedAccessToken(url, env);
  return token ? { accessToken: token } : {};
}
