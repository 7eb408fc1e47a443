import type { Logger } from "@berth/platform";
import type { CircuitBreakers } from "./circuit-breaker.js";
import type { Forwarder } from "./forward.js";
import { writeJsonRpcError } from "./json-rpc-error.js";
import { McpProxyError } from "./types.js";

// Answers that say the upstream (or what fronts it) is failing, rather than the request.
const FAILING_STATUSES = new Set([502, 503, 504]);

/**
 * Guards the exchanges of url instances (remote upstreams) with a circuit breaker per instance:
 * an open circuit is answered 503 with Retry-After (the time until the next probe) without
 * dialling. A failure is one the forwarder could not complete after its own retries, or a
 * 502/503/504 answer; any other answer is a success. Container instances are not guarded: the
 * runtime supervises them itself.
 */
export function withCircuitBreaker(
  forwarder: Forwarder,
  breakers: CircuitBreakers,
  logger: Logger,
): Forwarder {
  // The endpoint each breaker is about: a re-pointed instance starts with a closed circuit.
  const urls = new Map<string, string>();
  return {
    forward(req, res, endpoint, events) {
      if (endpoint.driver !== "url") return forwarder.forward(req, res, endpoint, events);
      const key = endpoint.instanceId;
      if (urls.get(key) !== endpoint.url) {
        if (urls.has(key)) breakers.reset(key);
        urls.delete(key);
        urls.set(key, endpoint.url);
        if (urls.size > 10_000) urls.delete(urls.keys().next().value!);
      }
      const admission = breakers.admit(key);
      if (!admission.admitted) {
        req.resume();
        const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1_000));
        const { consecutiveFailures, lastErrorCode } = admission.snapshot;
        const message = `the instance's MCP endpoint is failing (${consecutiveFailures} calls in a row, last ${lastErrorCode}): the gateway tries it again in ${seconds} s`;
        return writeJsonRpcError(
          res,
          new McpProxyError(503, message, { "retry-after": String(seconds) }),
        );
      }
      if (admission.probe) logger.info({ instance_id: key }, "MCP upstream circuit probe");
      forwarder.forward(req, res, endpoint, {
        onResponse(status, sessionId) {
          if (FAILING_STATUSES.has(status)) breakers.failed(key, `HTTP_${status}`);
          else breakers.succeeded(key);
          events.onResponse(status, sessionId);
        },
        onFailure(error, cause) {
          // Without a cause the request itself was refused (too large, cut short): not the upstream.
          if (cause) breakers.failed(key, cause.code);
          events.onFailure(error, cause);
        },
        // A refused delegated token: the upstream answered, so it is up.
        ...(events.onUnauthorized
          ? {
              onUnauthorized: () => {
                breakers.succeeded(key);
                return events.onUnauthorized!();
              },
            }
          : {}),
      });
    },
    close: () => forwarder.close(),
  };
}
