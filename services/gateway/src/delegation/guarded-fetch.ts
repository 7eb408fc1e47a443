import { rootCertificates } from "node:tls";
import { type AddressPolicy, classifyHost, classProblem, createGuardedLookup } from "@berth/spec";
import { Agent, fetch as undiciFetch } from "undici";

/** A fetch whose connections obey the endpoint address policy, and a way to close them. */
export interface GuardedFetch {
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/**
 * The fetch the gateway uses toward upstream authorization servers. Their addresses come from
 * metadata an upstream publishes, so they obey the same policy as url endpoints: an address
 * literal is checked before the request, a name when it is resolved (createGuardedLookup), so
 * metadata cannot send the gateway to a forbidden address. Redirects are not followed.
 */
export function createGuardedFetch(
  policy: AddressPolicy,
  timeoutMs = 10_000,
  /** Trusted besides the system's roots (PEM): a test's own CA. */
  extraCa?: string,
): GuardedFetch {
  const dispatcher = new Agent({
    connect: {
      lookup: createGuardedLookup(policy),
      ...(extraCa ? { ca: [...rootCertificates, extraCa] } : {}),
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return {
    fetch: (async (input: string | URL, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const refused = classProblem(classifyHost(url.hostname), policy);
      if (refused) throw new Error(`refused to connect to ${url.host}: ${refused}`);
      return undiciFetch(url, {
        ...(init as object),
        dispatcher,
        redirect: "manual",
        signal: init?.signal ?? AbortSignal.timeout(timeoutMs),
      });
    }) as never,
    close: () => dispatcher.close().catch(() => undefined),
  };
}
