import { Code, ConnectError, withActor } from "@berth/platform";
import type { Interceptor } from "@connectrpc/connect";
import { accessRuleOf, checkAccess } from "../teams/access-table.js";
import { PRINCIPAL } from "../teams/team-access.js";
import { CLIENT_ADDRESS } from "./client-address.js";
import { credentialOf, fromHeaders } from "./credential.js";
import type { RateGate } from "./rate-limiter.js";
import { allows, requiredScope } from "./scopes.js";
import type { StreamLimiter } from "./stream-limiter.js";
import type { Authenticator, Gatekeeper, RateLimitDefaults } from "./types.js";

/** How many failed authentications a client address may make: a burst, refilled per second. */
export interface FailedAuthLimit {
  limiter: RateGate;
  perSecond: number;
  burst: number;
}

/**
 * Authenticates the caller (401); a client address that presented too many wrong keys gets 429
 * with Retry-After for each further wrong one instead (a right key still passes, so callers
 * sharing an address with a guesser are not locked out; a missing key does not count: clients
 * ask first to learn how to log in). Then checks the scope (403) and takes one token from the
 * key's bucket (429 with Retry-After). Rate limits on calls count only authenticated calls.
 */
export function createGatekeeper(
  authenticator: Authenticator,
  limiter: RateGate,
  defaults: RateLimitDefaults,
  failures?: FailedAuthLimit,
): Gatekeeper {
  return async (header, needed, client, resourcePath) => {
    let principal: Awaited<ReturnType<Authenticator["authenticate"]>>;
    try {
      principal = await authenticator.authenticate(header, resourcePath);
    } catch (error) {
      const wrongKey =
        credentialOf(header) !== undefined &&
        ConnectError.from(error).code === Code.Unauthenticated;
      if (!failures || !client || !wrongKey) throw error;
      const decision = await failures.limiter.take(client, failures.perSecond, failures.burst);
      if (decision.ok) throw error;
      const wait = String(decision.retryAfterSeconds);
      throw new ConnectError(
        `too many failed authentication attempts from this address: retry in ${wait} s`,
        Code.ResourceExhausted,
        { "retry-after": wait },
      );
    }
    if (!allows(principal.scopes, needed)) {
      const holder = principal.user ? "access token" : "API key";
      throw new ConnectError(`the ${holder} lacks the ${needed} scope`, Code.PermissionDenied);
    }
    const rate = principal.rateLimitPerSecond || defaults.perSecond;
    const burst = principal.rateLimitBurst || defaults.burst;
    const decision = await limiter.take(principal.keyId, rate, burst);
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
 * Runs the gatekeeper before every RPC (Connect, gRPC-Web, gRPC and REST alike), checks the
 * caller's roles against the method's row of the access table, counts each key's open server
 * streams (:watch, logs) against its cap, and runs the call as its key (the actor of the audit
 * trail) and principal (whose teams the handlers check objects against).
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
    checkAccess(principal, accessRuleOf(request.method));
    if (streams && request.method.methodKind === "server_streaming") {
      streams.open(principal.keyId, request.signal);
    }
    // The key travels with every call this request makes, into the events of what it changes.
    request.contextValues.set(PRINCIPAL, principal);
    return withActor(principal.keyId, () => next(request));
  };
}
