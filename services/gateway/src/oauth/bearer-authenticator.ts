import { parseApiKey } from "../api-keys/key-format.js";
import { credentialOf } from "../auth/credential.js";
import type { Authenticator, Principal } from "../auth/types.js";
import { rememberSubjectToken } from "./subject-tokens.js";
import { looksLikeJwt, type TokenIdentity, type TokenVerifier } from "./token-verifier.js";

/** Options of createBearerAuthenticator. */
export interface BearerAuthenticatorOptions {
  /** API keys (berth_…), as before. */
  keys: Authenticator;
  /** OAuth access tokens (JWTs). */
  tokens: TokenVerifier;
  /** Told of every subject a token was accepted for (the audit trail names it). */
  onSubject?: (identity: TokenIdentity) => void;
}

/**
 * API keys and OAuth access tokens side by side on `authorization: Bearer …`: a credential shaped
 * like a Berth API key goes to the key authenticator, a JWT to the token verifier. A token's
 * principal has the token's scopes and no instance allow-list (its audience already names the
 * one MCP endpoint it may reach, or the whole gateway).
 */
export function createBearerAuthenticator(options: BearerAuthenticatorOptions): Authenticator {
  const { keys, tokens } = options;
  return {
    async authenticate(header, resourcePath) {
      const credential = credentialOf(header);
      if (credential === undefined || parseApiKey(credential) || !looksLikeJwt(credential)) {
        return keys.authenticate(header);
      }
      const identity = await tokens(credential, resourcePath);
      options.onSubject?.(identity);
      const principal: Principal = {
        keyId: identity.actorId,
        user: { issuer: identity.issuer, subject: identity.subject, name: identity.name },
        scopes: identity.scopes,
        teams: identity.teams,
        instances: [],
        virtualServers: [],
        rateLimitPerSecond: 0,
        rateLimitBurst: 0,
        expireTime: identity.expireTime,
      };
      rememberSubjectToken(principal, credential);
      return principal;
    },
    forget: (keyId) => keys.forget(keyId),
  };
}
