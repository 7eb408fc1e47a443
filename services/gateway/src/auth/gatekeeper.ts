import { Code, ConnectError } from "@berth/platform";
import type { Interceptor } from "@connectrpc/connect";
import { CLIENT_ADDRESS } from "./client-address.js";
import { credentialOf, fromHeaders } from "./credential.js";
import type { RateLimiter } from "./rate-limiter.js";
import { allows, requiredScope } from "./scopes.js";
import type { StreamLimiter } from "./stream-limiter.js";
import type { Authenticator, Gatekeeper, RateLimitDefaults } from "./types.js";

/** How many failed authentications a client address may make: a burst, refilled per second. */
export interface FailedAuthLimit {
  limiter: RateLimiter;
  perSecond: number;
  burst: number;
}

/**
 * Refuses a client address that failed authentication too often (429 with Retry-After, before
 * its key is even looked up: guessing keys costs time; a key verified recently still passes, so
 * a shared address is not locked out by someone else's guesses), authenticates the caller (401;
 * a wrong key counts against its address, a missing one does not), checks the scope (403), then takes one token from the key's bucket
 * (429 with Retry-After). Rate limits on calls count only authenticated calls, per key.
 */
export function createGatekeeper(
  authenticator: Authenticator,
  limiter: RateLimiter,
  defaults: RateLimitDefaults,
  failures?: FailedAuthLimit,
): Gatekeeper {
  return async (header, needed, client) => {
    if (failures && client && !authenticator.isVerified(header)) {
      const decision = failures.limiter.peek(client, failures.perSecond, failures.burst);
      if (!decision.ok) {
        const wait = String(decision.retryAfterSeconds);
        throw new ConnectError(
          `too many failed authentication attempts from this address: retry in ${wait} s`,
          Code.ResourceExhausted,
          { "retry-after": wait },
        );
      }
    }
    let principal: Awaited<ReturnType<Authenticator["authenticate"]>>;
    try {
      principal = await authenticator.authenticate(header);
    } catch (error) {
      // A wrong key counts; no key at all does not (clients ask first to learn how to log in).
      const guessed = credentialOf(header) !== undefined;
      if (failures && client && guessed && ConnectError.from(error).code === Code.Unauthenticated)
        failures.limiter.take(client, failures.perSecond, failures.burst);
      throw error;
    }
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

/**
 * Runs the gatekeeper before every RPC (Connect, gRPC-Web, gRPC and REST alike), and counts each
 * key's open server streams (:watch, logs) against its cap.
 */
export function createAuthInterceptor(
  gatekeeper: Gatekeeper,
  streams?: StreamLimiter,
): Interceptor {
  return (next) => async (request) => {
    const client = request.contextValues.get(CLIENT_ADDRESS);
    const principal = await gatekeeper(
      fromHeaders(request.header),
      requiredScope(request.method),
      client,
    );
    if (streams && request.method.methodKind === "server_streaming") {
      streams.open(principal.keyId, request.signal);
    }
    return next(request);
  };
}
