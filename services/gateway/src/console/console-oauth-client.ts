import { CONSOLE_CLIENT_ID, consoleRedirectUri } from "@berth/console";
import type { ClientMetadata } from "oidc-provider";

/**
 * The web console's registration at the embedded authorization server: a public client (PKCE,
 * no secret) that may only send the browser back to the console at this gateway's public URL,
 * and may refresh its tokens.
 */
export function consoleOAuthClient(base: string): ClientMetadata {
  return {
    client_id: CONSOLE_CLIENT_ID,
    client_name: "Berth console",
    application_type: "web",
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    redirect_uris: [consoleRedirectUri(base)],
  };
}
