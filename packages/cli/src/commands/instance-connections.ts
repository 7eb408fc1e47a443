import {
  ConnectInstanceResponseSchema,
  DisconnectInstanceResponseSchema,
  GetInstanceConnectionResponseSchema,
} from "@berth/sdk";
import { formatTime } from "../format.js";
import { openInBrowser } from "../oauth-login.js";
import { formatFields } from "../table.js";
import type { CommandGroup } from "../types.js";

const one = { min: 1, max: 1 };

/**
 * `berth instances connect|connection|disconnect`: the signed-in person's own account at a url
 * instance's upstream (json_spec.delegation). Needs `berth login` (an API key has no upstream
 * account); the gateway runs the OAuth flow and keeps the tokens, never shown here.
 */
export const instanceConnectionCommands: CommandGroup = {
  connect: {
    usage: "<id|name> [--no-browser]",
    summary:
      "Connect your own account at the instance's upstream: prints (and opens) the address to sign in at",
    options: { "no-browser": { type: "boolean" } },
    positionals: one,
    async run(ctx, { values, positionals }) {
      const started = await ctx.berth.delegation.connectInstance({ instance: positionals[0]! });
      if (ctx.output === "json") return ctx.json(ConnectInstanceResponseSchema, started);
      ctx.io.out(
        `Open this address to connect your account (before ${formatTime(started.expireTime)}):\n${started.authorizationUrl}`,
      );
      if (values["no-browser"] !== true) openInBrowser(started.authorizationUrl);
    },
  },
  connection: {
    usage: "<id|name>",
    summary: "Show whether you have connected your account at the instance's upstream",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const status = await ctx.berth.delegation.getInstanceConnection({
        instance: positionals[0]!,
      });
      if (ctx.output === "json") return ctx.json(GetInstanceConnectionResponseSchema, status);
      if (status.delegationType === "token_exchange") {
        ctx.io.out(
          formatFields([
            ["delegation", "token exchange: no connection needed; tokens are exchanged per call"],
            ["your sign-in", status.connected ? "can be exchanged" : "cannot be exchanged here"],
            ["issuer", status.issuer],
            ["scopes", status.scopes.join(" ")],
            ["token expires", formatTime(status.expireTime)],
          ]),
        );
        return;
      }
      ctx.io.out(
        formatFields([
          ["connected", status.connected ? "yes" : "no"],
          ["issuer", status.issuer],
          ["scopes", status.scopes.join(" ")],
          ["token expires", formatTime(status.expireTime)],
        ]),
      );
    },
  },
  disconnect: {
    usage: "<id|name>",
    summary: "Forget your grant to the instance's upstream",
    options: {},
    positionals: one,
    async run(ctx, { positionals }) {
      const gone = await ctx.berth.delegation.disconnectInstance({ instance: positionals[0]! });
      if (ctx.output === "json") return ctx.json(DisconnectInstanceResponseSchema, gone);
      ctx.note(gone.deleted ? "disconnected" : "there was no connection to forget");
    },
  },
};
