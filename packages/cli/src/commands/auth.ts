import { UsageError } from "../args.js";
import { login, logout } from "../oauth-login.js";
import type { CommandGroup } from "../types.js";

/** `berth login` / `berth logout` (also `berth auth login|logout`): OAuth sign-in for the CLI. */
export const authCommands: CommandGroup = {
  login: {
    usage: "[--scope 'read write'] [--port N] [--no-browser]",
    summary:
      "Sign in with the gateway's OAuth server in a browser; later commands use the token when no API key is given",
    options: {
      scope: { type: "string" },
      port: { type: "string" },
      "no-browser": { type: "boolean" },
    },
    positionals: { min: 0, max: 0 },
    async run(ctx, { values }) {
      const port = Number(values.port ?? 0);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new UsageError("--port must be a port number (0 for a free one)");
      }
      await login({
        url: ctx.url,
        env: ctx.io.env,
        scope: String(values.scope ?? "read"),
        port,
        browser: values["no-browser"] !== true,
        say: (text) => ctx.io.out(text),
        signal: ctx.io.signal,
      });
      ctx.io.out(`Signed in to ${ctx.url}.`);
    },
  },
  logout: {
    usage: "",
    summary: "Forget the tokens kept for this gateway",
    options: {},
    positionals: { min: 0, max: 0 },
    async run(ctx) {
      await logout(ctx.url, ctx.io.env);
      ctx.io.out(`Signed out of ${ctx.url}.`);
    },
  },
};
