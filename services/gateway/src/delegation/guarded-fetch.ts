import type { LookupFunction } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";

/** A fetch whose connections go through the guarded lookup, and a way to close them. */
export interface GuardedFetch {
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/**
 * The fetch the gateway uses toward upstream authorization servers. Their addresses come from
 * metadata an upstream publishes, so each name is resolved with the same guard as url
 * endpoints (createGuardedLookup): metadata cannot send the gateway to a forbidden address.
 * Redirects are not followed (the MCP SDK's helpers follow only same-origin ones themselves).
 */
export function createGuardedFetch(lookup?: LookupFunction, timeoutMs = 10_000): GuardedFetch {
  const dispatcher = new Agent({
    ...(lookup ? { connect: { lookup } } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return {
    fetch: ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, {
        ...(init as object),
        dispatcher,
        redirect: "manual",
        signal: init?.signal ?? AbortSignal.timeout(timeoutMs),
      })) as never,
    close: () => dispatcher.close().catch(() => undefined),
  };
}
