import * as oauth from "oauth4webapi";
import { CONSOLE_CLIENT_ID, consoleRedirectUri } from "../src/oauth-client";

/**
 * "Sign in as a user": OAuth 2.1 authorization code with PKCE (S256) against the gateway's
 * embedded authorization server, as the first-party public client the gateway registers for the
 * console. oauth4webapi (a maintained, certified client) makes the requests and checks the
 * answers; this file only keeps state between the redirect out and the redirect back, and the
 * tokens in this tab's session storage.
 */

const PENDING = "berth.oauth.pending";
const TOKENS = "berth.oauth.tokens";
const client: oauth.Client = { client_id: CONSOLE_CLIENT_ID };
// The one-machine default is http://127.0.0.1:8080: plain http is allowed for the gateway's own
// origin only (every request below goes there).
const insecure = { [oauth.allowInsecureRequests]: window.location.protocol === "http:" };

/** The tokens of a signed-in user, as kept in session storage. */
export interface UserTokens {
  readonly issuer: string;
  readonly username: string;
  readonly scope: string;
  readonly accessToken: string;
  readonly refreshToken?: string;
  /** When the access token expires (ms since the epoch). */
  readonly expiresAt: number;
}

interface Pending {
  issuer: string;
  verifier: string;
  state: string;
}

/** Where users sign in: the embedded issuer of this gateway, or why there is none here. */
export async function findIssuer(): Promise<{ issuer: string } | { unavailable: string }> {
  // PKCE needs WebCrypto, which browsers offer on https and on loopback addresses only.
  if (!window.isSecureContext)
    return {
      unavailable: "the browser offers the crypto it needs only over https (or on 127.0.0.1)",
    };
  const response = await fetch("/.well-known/oauth-protected-resource");
  if (!response.ok) return { unavailable: `the gateway answered ${response.status}` };
  const metadata = (await response.json()) as {
    resource?: string;
    authorization_servers?: string[];
  };
  const base = metadata.resource ?? "";
  const issuer = `${base}/oauth`;
  if (!metadata.authorization_servers?.includes(issuer))
    return { unavailable: "this gateway's own sign-in (BERTH_OAUTH_EMBEDDED) is turned off" };
  if (new URL(base).origin !== window.location.origin)
    return { unavailable: `users sign in to the console at ${consoleRedirectUri(base)}` };
  return { issuer };
}

async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  const response = await oauth.discoveryRequest(url, { algorithm: "oauth2", ...insecure });
  return oauth.processDiscoveryResponse(url, response);
}

const redirectUri = (issuer: string) => consoleRedirectUri(issuer.replace(/\/oauth$/, ""));

/** Sends the browser to the sign-in page, asking for `scope` (Berth scopes, space-separated). */
export async function startUserSignIn(issuer: string, scope: string): Promise<void> {
  const server = await discover(issuer);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const pending: Pending = { issuer, verifier, state };
  window.sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(server.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: CONSOLE_CLIENT_ID,
    redirect_uri: redirectUri(issuer),
    response_type: "code",
    scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    resource: issuer.replace(/\/oauth$/, ""),
  }).toString();
  window.location.assign(url);
}

/** The user name the access token carries (the embedded server adds it; shown, not trusted). */
function usernameOf(accessToken: string): string {
  try {
    const payload = JSON.parse(
      atob(accessToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")),
    ) as { preferred_username?: string; sub?: string };
    return payload.preferred_username ?? payload.sub ?? "";
  } catch {
    return "";
  }
}

function tokensFrom(
  issuer: string,
  answer: oauth.TokenEndpointResponse,
  previous?: UserTokens,
): UserTokens {
  return {
    issuer,
    username: usernameOf(answer.access_token) || previous?.username || "",
    scope: answer.scope ?? previous?.scope ?? "",
    accessToken: answer.access_token,
    ...((answer.refresh_token ?? previous?.refreshToken)
      ? { refreshToken: answer.refresh_token ?? previous?.refreshToken }
      : {}),
    expiresAt: Date.now() + (answer.expires_in ?? 300) * 1000,
  };
}

/** A failure the sign-in page shows: the authorization server's own words where it gave any. */
export function describeSignInError(error: unknown): string {
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError)
    return `${error.error}: ${error.error_description ?? error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * On the way back from the sign-in page (`?code=…&state=…`, or `?error=…`): checks the answer
 * against the sign-in this tab started, trades the code for tokens and keeps them. Undefined
 * when the page was not opened by a redirect back. The query is removed from the address
 * either way, so a reload does not replay it.
 */
export async function finishUserSignIn(): Promise<UserTokens | undefined> {
  const here = new URL(window.location.href);
  if (!here.searchParams.has("code") && !here.searchParams.has("error")) return undefined;
  const saved = window.sessionStorage.getItem(PENDING);
  window.sessionStorage.removeItem(PENDING);
  window.history.replaceState(null, "", `${here.pathname}${here.hash}`);
  if (!saved) throw new Error("this sign-in was not started in this tab: start again");
  const pending = JSON.parse(saved) as Pending;
  const server = await discover(pending.issuer);
  const params = oauth.validateAuthResponse(server, client, here, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    server,
    client,
    oauth.None(),
    params,
    redirectUri(pending.issuer),
    pending.verifier,
    insecure,
  );
  const tokens = tokensFrom(
    pending.issuer,
    await oauth.processAuthorizationCodeResponse(server, client, response),
  );
  storeUserTokens(tokens);
  return tokens;
}

export function storedUserTokens(): UserTokens | undefined {
  const saved = window.sessionStorage.getItem(TOKENS);
  return saved ? (JSON.parse(saved) as UserTokens) : undefined;
}

export function storeUserTokens(tokens: UserTokens | undefined): void {
  if (tokens) window.sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  else window.sessionStorage.removeItem(TOKENS);
}

/** How long before its expiry an access token is refreshed. */
const EARLY_MS = 30_000;

/**
 * The current access token for each call: refreshed with the refresh token shortly before it
 * expires (one refresh at a time, however many calls ask). A refresh that fails calls
 * `onExpired` (the console shows the sign-in page again) and the call fails UNAUTHENTICATED.
 */
export function createTokenSource(
  initial: UserTokens,
  onExpired: (why: string) => void,
): () => Promise<string> {
  let tokens = initial;
  let refreshing: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    if (!tokens.refreshToken) throw new Error("the sign-in has expired: sign in again");
    const server = await discover(tokens.issuer);
    const response = await oauth.refreshTokenGrantRequest(
      server,
      client,
      oauth.None(),
      tokens.refreshToken,
      insecure,
    );
    tokens = tokensFrom(
      tokens.issuer,
      await oauth.processRefreshTokenResponse(server, client, response),
      tokens,
    );
    storeUserTokens(tokens);
    return tokens.accessToken;
  };
  return async () => {
    if (tokens.expiresAt - EARLY_MS > Date.now()) return tokens.accessToken;
    refreshing ??= refresh().finally(() => {
      refreshing = undefined;
    });
    try {
      return await refreshing;
    } catch (error) {
      onExpired(describeSignInError(error));
      throw error;
    }
  };
}

/** Signs out: the refresh token is revoked (best effort) and the tokens forgotten. */
export async function signOutUser(tokens: UserTokens): Promise<void> {
  storeUserTokens(undefined);
  if (!tokens.refreshToken) return;
  try {
    const server = await discover(tokens.issuer);
    await oauth.revocationRequest(server, client, oauth.None(), tokens.refreshToken, insecure);
  } catch {
    // The tokens are gone from this tab; a revocation that failed leaves them to expire.
  }
}
