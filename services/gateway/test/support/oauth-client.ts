import { auth, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";

/** Where the test client says it receives codes; nothing listens there: the test reads the redirect. */
export const REDIRECT_URL = "http://127.0.0.1:9/callback";

/**
 * The MCP SDK's OAuthClientProvider as a desktop client implements it, in memory: registration,
 * tokens and the PKCE verifier kept; the authorization URL handed to the test (the "browser").
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  /** Every authorization URL the SDK asked the user to open, in order. */
  readonly authorizations: URL[] = [];

  get redirectUrl() {
    return REDIRECT_URL;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "berth oauth test",
      redirect_uris: [REDIRECT_URL],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizations.push(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  /** What the SDK drops when the server refuses them (a refresh token refused: a new sign-in). */
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.saved = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = "";
  }
}

/** A browser's cookies for one host, enough for a sign-in (names and values; paths ignored). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }
  header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

/** What the browser part of a sign-in ended with. */
export type SignInResult =
  | { kind: "code"; code: string; state: string | null }
  | { kind: "error"; error: string; description: string | null }
  | { kind: "refused"; status: number; page: string };

/**
 * Plays the browser: opens the authorization URL, follows redirects to the sign-in page, submits
 * its form with `fields` (user name and password, or whatever the page asks), and follows the
 * redirects until the client's redirect URI, whose code (or error) is returned.
 */
export async function signIn(
  authorizationUrl: URL,
  fields: Record<string, string>,
  /** The client's redirect URI, and whether to call it (a CLI's loopback listener waits there). */
  redirect: { url: string; deliver: boolean } = { url: REDIRECT_URL, deliver: false },
): Promise<SignInResult & { pageHtml: string }> {
  const jar = new CookieJar();
  let url = authorizationUrl.href;
  let pageHtml = "";
  for (let hop = 0; hop < 12; hop++) {
    if (url.startsWith(redirect.url)) {
      if (redirect.deliver) await (await fetch(url)).text();
      const params = new URL(url).searchParams;
      const code = params.get("code");
      if (code) return { kind: "code", code, state: params.get("state"), pageHtml };
      return {
        kind: "error",
        error: params.get("error") ?? "",
        description: params.get("error_description"),
        pageHtml,
      };
    }
    const response = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
    jar.take(response);
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get("location")!, url).href;
      continue;
    }
    const html = await response.text();
    if (response.status !== 200 || !html.includes("<form")) {
      return { kind: "refused", status: response.status, page: html, pageHtml };
    }
    pageHtml = html;
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, "&");
    const posted = await fetch(new URL(action!, url), {
      method: "POST",
      redirect: "manual",
      headers: { cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ action: "allow", ...fields }).toString(),
    });
    jar.take(posted);
    if (posted.status < 300 || posted.status >= 400) {
      return { kind: "refused", status: posted.status, page: await posted.text(), pageHtml };
    }
    url = new URL(posted.headers.get("location")!, url).href;
  }
  throw new Error("the sign-in did not reach the redirect URI in 12 hops");
}

/** Opens the sign-in page of an authorization URL; `submit` posts its form (as often as wanted). */
export async function openSignInPage(authorizationUrl: URL) {
  const jar = new CookieJar();
  let url = authorizationUrl.href;
  for (let hop = 0; hop < 5; hop++) {
    const response = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
    jar.take(response);
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get("location")!, url).href;
      continue;
    }
    await response.body?.cancel();
    break;
  }
  const page = url;
  return {
    submit: (fields: Record<string, string>) =>
      fetch(page, {
        method: "POST",
        redirect: "manual",
        headers: { cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ action: "allow", ...fields }).toString(),
      }),
  };
}

/**
 * Connects the official SDK client to an MCP URL with a provider's tokens: the client (added to
 * `clients`, which the test closes) or the error, with the transport either way.
 */
export async function connectWithProvider(
  url: string,
  provider: OAuthClientProvider,
  clients: Client[],
  name: string,
) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const client = new Client({ name, version: "1.0.0" });
  try {
    await client.connect(transport, { timeout: 30_000 });
    clients.push(client);
    return { client, transport };
  } catch (error) {
    return { error, transport };
  }
}

/**
 * A raw MCP initialize with a bearer credential (no SDK: the test reads what a refused client
 * sees): the HTTP status, the `WWW-Authenticate` challenge and `Retry-After`, and with `readBody`
 * the body.
 */
export async function initializeWith(
  url: string,
  bearer: string,
  options: { readBody?: boolean } = {},
): Promise<{ status: number; challenge: string; retryAfter: string | null; text: string }> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "raw", version: "1" },
      },
    }),
  });
  let text = "";
  if (options.readBody) text = await response.text();
  else await response.body?.cancel();
  return {
    status: response.status,
    challenge: response.headers.get("www-authenticate") ?? "",
    retryAfter: response.headers.get("retry-after"),
    text,
  };
}

/**
 * A person signed in to a gateway with the MCP SDK's OAuth client (discovery from the gateway's
 * protected resource metadata, registration, PKCE, the sign-in form submitted): their access
 * token for the gateway as a whole, from whichever issuer the gateway names first.
 */
export async function signedInToken(
  serverUrl: string,
  credentials: { username: string; password: string },
): Promise<string> {
  const provider = new MemoryOAuthProvider();
  const started = await auth(provider, { serverUrl, scope: "mcp" });
  if (started !== "REDIRECT") throw new Error(`the OAuth flow began with ${started}`);
  const signedIn = await signIn(provider.authorizations[0]!, credentials);
  if (signedIn.kind !== "code") throw new Error(`sign-in ended with ${JSON.stringify(signedIn)}`);
  const done = await auth(provider, { serverUrl, scope: "mcp", authorizationCode: signedIn.code });
  if (done !== "AUTHORIZED" || !provider.saved) throw new Error(`the OAuth flow ended ${done}`);
  return provider.saved.access_token;
}
