import { spawn } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { auth, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";

/** What `berth login` keeps for one gateway. */
interface Saved {
  client?: OAuthClientInformationMixed;
  redirectUrl?: string;
  tokens?: OAuthTokens;
  /** When the access token expires (ms since the epoch). */
  expiresAt?: number;
  verifier?: string;
}

/** Where tokens are kept: BERTH_CONFIG_DIR, else ~/.config/berth (the file is mode 0600). */
export function credentialsFile(env: Record<string, string | undefined>): string {
  const dir =
    env.BERTH_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "berth");
  return join(dir, "credentials.json");
}

async function readAll(file: string): Promise<Record<string, Saved>> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, Saved>;
  } catch {
    return {};
  }
}

async function writeOne(file: string, url: string, saved: Saved | undefined): Promise<void> {
  const all = await readAll(file);
  if (saved) all[url] = saved;
  else delete all[url];
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(all, null, 2), { mode: 0o600 });
  await chmod(file, 0o600);
}

/** The MCP SDK's OAuth client provider over the credentials file, for one gateway. */
class FileProvider implements OAuthClientProvider {
  constructor(
    private readonly file: string,
    private readonly url: string,
    private saved: Saved,
    private readonly redirect: string,
    private readonly open: (url: URL) => void,
  ) {}
  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "berth CLI",
      redirect_uris: [this.redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  // A client registered for another loopback port cannot receive this login's code.
  clientInformation() {
    return this.saved.redirectUrl === this.redirect ? this.saved.client : undefined;
  }
  async saveClientInformation(client: OAuthClientInformationMixed) {
    this.saved = { ...this.saved, client, redirectUrl: this.redirect };
    await writeOne(this.file, this.url, this.saved);
  }
  tokens() {
    return this.saved.tokens;
  }
  async saveTokens(tokens: OAuthTokens) {
    const expiresAt = tokens.expires_in ? Date.now() + tokens.expires_in * 1000 : undefined;
    this.saved = { ...this.saved, tokens, ...(expiresAt ? { expiresAt } : {}) };
    await writeOne(this.file, this.url, this.saved);
  }
  redirectToAuthorization(url: URL) {
    this.open(url);
  }
  saveCodeVerifier(verifier: string) {
    this.saved = { ...this.saved, verifier };
  }
  codeVerifier() {
    return this.saved.verifier ?? "";
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "client") this.saved = { ...this.saved, client: undefined };
    if (scope === "all" || scope === "tokens") this.saved = { ...this.saved, tokens: undefined };
  }
}

/** Tries to open an address in the desktop's browser (xdg-open / open); silent when there is none. */
export function openInBrowser(url: string): void {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  spawn(opener, [url], { stdio: "ignore", detached: true })
    .on("error", () => {})
    .unref();
}

/** Options of login. */
export interface LoginOptions {
  url: string;
  env: Record<string, string | undefined>;
  scope: string;
  /** Loopback port for the redirect (0: a free one). */
  port: number;
  /** Also try to open a browser (xdg-open / open). */
  browser: boolean;
  say(text: string): void;
  signal: AbortSignal;
  timeoutMs?: number;
}

/**
 * Signs in to the gateway's authorization server as an MCP client would (the MCP SDK's auth():
 * discovery from the gateway's protected resource metadata, dynamic registration, PKCE), with a
 * loopback redirect (RFC 8252): the URL is printed (and opened in a browser when asked), the code
 * comes back to a one-shot listener on 127.0.0.1, and the tokens are kept for later commands.
 */
export async function login(options: LoginOptions): Promise<void> {
  const file = credentialsFile(options.env);
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  try {
    const redirect = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    const code = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("no sign-in within the time allowed")),
        options.timeoutMs ?? 300_000,
      );
      options.signal.addEventListener("abort", () => reject(new Error("interrupted")));
      server.on("request", (req, res) => {
        const params = new URL(req.url ?? "/", redirect).searchParams;
        const got = params.get("code");
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.end(got ? "Signed in to Berth: you can close this window." : "Sign-in failed.");
        clearTimeout(timer);
        if (got) resolve(got);
        else
          reject(
            new Error(
              `sign-in failed: ${params.get("error_description") ?? params.get("error") ?? "no code"}`,
            ),
          );
      });
    });
    const provider = new FileProvider(
      file,
      options.url,
      (await readAll(file))[options.url] ?? {},
      redirect,
      (url) => {
        options.say(`Open this address to sign in:\n${url.href}`);
        if (options.browser) openInBrowser(url.href);
      },
    );
    // Always a new sign-in: tokens kept from before are replaced.
    provider.invalidateCredentials("tokens");
    const first = await auth(provider, { serverUrl: options.url, scope: options.scope });
    if (first !== "REDIRECT") return;
    await auth(provider, {
      serverUrl: options.url,
      scope: options.scope,
      authorizationCode: await code,
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** Forgets the tokens kept for a gateway. */
export function logout(url: string, env: Record<string, string | undefined>): Promise<void> {
  return writeOne(credentialsFile(env), url, undefined);
}

/**
 * The access token kept for a gateway, refreshed when it has expired (undefined when there is
 * none); a refresh the server refuses asks for `berth login` again.
 */
export async function storedAccessToken(
  url: string,
  env: Record<string, string | undefined>,
): Promise<(() => Promise<string>) | undefined> {
  const file = credentialsFile(env);
  const saved = (await readAll(file))[url];
  if (!saved?.tokens) return undefined;
  return async () => {
    const current = (await readAll(file))[url] ?? saved;
    if (!current.expiresAt || current.expiresAt - 30_000 > Date.now()) {
      return current.tokens!.access_token;
    }
    const provider = new FileProvider(file, url, current, current.redirectUrl ?? "", () => {
      throw new Error("the sign-in has expired: run berth login again");
    });
    if ((await auth(provider, { serverUrl: url })) !== "AUTHORIZED") {
      throw new Error("the sign-in has expired: run berth login again");
    }
    return provider.tokens()!.access_token;
  };
}
