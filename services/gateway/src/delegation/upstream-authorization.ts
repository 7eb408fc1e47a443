import type { DelegationSpec } from "@berth/spec";
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  registerClient,
} from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  AuthorizationServerMetadata,
  OAuthClientInformationMixed,
} from "@modelcontextprotocol/sdk/shared/auth.js";

/** The authorization server of an upstream, as discovered (or configured) for delegation. */
export interface UpstreamAuthorization {
  /** The authorization server's issuer URL. */
  issuer: string;
  metadata: AuthorizationServerMetadata;
  /** The resource indicator (RFC 8707) tokens are asked for: the upstream's MCP endpoint. */
  resource: string;
  /** Scopes to ask for (json_spec.delegation.scopes, else the upstream's advertised ones). */
  scopes: string[];
}

type Fetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Finds an upstream's authorization server the way an MCP client does (MCP authorization,
 * 2025-11-25): the protected resource metadata (RFC 9728) of its endpoint names the servers and
 * the resource; the first server's metadata (RFC 8414, else OpenID discovery) is read. A
 * configured `authorization_server` is used instead of the advertised one (the metadata is then
 * optional). The MCP SDK's discovery helpers do the reading.
 */
export async function discoverUpstreamAuthorization(
  endpoint: string,
  delegation: DelegationSpec,
  fetchFn: Fetch,
): Promise<UpstreamAuthorization> {
  let resource = endpoint;
  let advertised: string[] = [];
  let servers: string[] = [];
  try {
    const metadata = await discoverOAuthProtectedResourceMetadata(endpoint, undefined, fetchFn);
    if (metadata.resource) resource = metadata.resource;
    servers = metadata.authorization_servers ?? [];
    advertised = metadata.scopes_supported ?? [];
  } catch (error) {
    if (!delegation.authorizationServer) {
      throw new Error(
        `the upstream publishes no protected resource metadata (${(error as Error).message}); set json_spec.delegation.authorization_server`,
      );
    }
  }
  const issuer = delegation.authorizationServer ?? servers[0];
  if (!issuer)
    throw new Error("the upstream's protected resource metadata names no authorization server");
  const metadata = await discoverAuthorizationServerMetadata(issuer, { fetchFn });
  if (!metadata) throw new Error(`no authorization server metadata at ${issuer}`);
  return {
    issuer,
    metadata,
    resource,
    scopes: delegation.scopes.length > 0 ? delegation.scopes : advertised,
  };
}

/**
 * Registers the gateway as a public OAuth client of an upstream's authorization server
 * (RFC 7591 dynamic registration), with its delegation callback as the one redirect URI.
 */
export async function registerGatewayClient(
  server: UpstreamAuthorization,
  redirectUri: string,
  fetchFn: Fetch,
): Promise<OAuthClientInformationMixed> {
  return registerClient(server.issuer, {
    metadata: server.metadata,
    clientMetadata: {
      client_name: "Berth gateway",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    },
    ...(server.scopes.length > 0 ? { scope: server.scopes.join(" ") } : {}),
    fetchFn,
  });
}
