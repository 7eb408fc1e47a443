import { Code, ConnectError } from "@berth/platform";
import type { Interceptor } from "@connectrpc/connect";
import { fromHeaders } from "./credential.js";
import type { RateLimiter } from "./rate-limiter.js";
import { allows, requiredScope } from "./scopes.js";
import type { Authenticator, Gatekeeper, RateLimitDefaults } from "./types.js";

/**
 * Authenticates the caller (401), checks the scope (403), then takes one token from the key's
 * bucket (429 with Retry-After). Rate limits count only authenticated calls, per key.
 */
export function createGatekeeper(
  authenticator: Authenticator,
  limiter: RateLimiter,
  defaults: RateLimitDefaults,
): Gatekeeper {
  return async (header, needed) => {
    const principal = await authenticator.authenticate(header);
    if (!allows(principal.scopes, needed)) {
      throw new ConnectError(`the API key lacks the ${needed} scope`, Code.PermissionDenied);
    }
    const rate = principal.rateLimitPerSecond || defaults.perSecond;
    const burst = principal.rateLimitBurst || defaults.burst;
    const decision = limiter.take(principal.keyId, rate, burst);
    if (!decision.ok) {
      const wait = String(decision.retryAfterSeconds);
      throw new ConnectError(`rate limit exceeded: retry in ${wait} s`, Code.ResourceExhausted, {
        "retry-after": wait,
      });
    }
    return principal;
  };
}

/** Runs the gatekeeper before every RPC (Connect, gRPC-Web, gRPC and REST alike). */
export function createAuthInterceptor(gatekeeper: Gatekeeper): Interceptor {
  return (next) => async (request) => {
    await gatekeeper(fromHeaders(request.header), requiredScope(request.method));
    return next(request);
  };
}
