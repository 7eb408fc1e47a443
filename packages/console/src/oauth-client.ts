/**
 * The console as a client of the gateway's embedded authorization server: a first-party public
 * client (no secret; authorization code with PKCE), registered in the server's configuration
 * rather than by dynamic registration, so its one redirect URI is fixed by the gateway's public
 * URL. Shared by the gateway (which registers it) and the console (which signs in with it).
 */

/** The console's client_id. */
export const CONSOLE_CLIENT_ID = "berth-console";

/** Where the authorization server sends the browser back: the console's page under `base`. */
export function consoleRedirectUri(base: string): string {
  return `${base.replace(/\/$/, "")}/ui/`;
}
