import { Code, ConnectError } from "@berth/platform";
import { credentialOf } from "../auth/credential.js";
import type { Gatekeeper } from "../auth/types.js";
import type { ResourceUrls } from "./resource-urls.js";

const quoted = (value: string) => `"${value.replace(/["\\]/g, "")}"`;

/** The WWW-Authenticate challenge (RFC 6750 §3, RFC 9728 §5.1) for a refused request. */
export function bearerChallenge(params: {
  resourceMetadata: string;
  scope?: string;
  error?: "invalid_token" | "insufficient_scope";
  description?: string;
}): string {
  const parts = [`realm="berth"`, `resource_metadata=${quoted(params.resourceMetadata)}`];
  if (params.error) parts.push(`error=${quoted(params.error)}`);
  if (params.description) parts.push(`error_description=${quoted(params.description)}`);
  if (params.scope) parts.push(`scope=${quoted(params.scope)}`);
  return `Bearer ${parts.join(", ")}`;
}

/**
 * Gives the gatekeeper's refusals the challenges of the MCP authorization specification: a 401
 * names the protected resource metadata of the resource addressed (and `invalid_token` when a
 * credential was presented), a 403 for a missing scope is `insufficient_scope` with the scope
 * needed, so a client can discover where to sign in, or step up, from the refusal alone.
 * The gatekeeper's only PERMISSION_DENIED is its scope check.
 */
export function withOAuthChallenges(gatekeeper: Gatekeeper, urls: () => ResourceUrls): Gatekeeper {
  return async (header, needed, client, resourcePath) => {
    try {
      return await gatekeeper(header, needed, client, resourcePath);
    } catch (error) {
      const err = ConnectError.from(error);
      if (err.code !== Code.Unauthenticated && err.code !== Code.PermissionDenied) throw error;
      const resourceMetadata = urls().metadataUrlOf(resourcePath);
      const challenge =
        err.code === Code.PermissionDenied
          ? bearerChallenge({ resourceMetadata, error: "insufficient_scope", scope: needed })
          : bearerChallenge({
              resourceMetadata,
              scope: needed,
              ...(credentialOf(header)
                ? { error: "invalid_token" as const, description: err.rawMessage }
                : {}),
            });
      const metadata = new Headers(err.metadata);
      metadata.set("www-authenticate", challenge);
      throw new ConnectError(err.rawMessage, err.code, metadata, undefined, err.cause);
    }
  };
}
