import type { LookupFunction } from "node:net";
import { dialGuarded, splitGuard } from "@berth/platform";
import { Agent, type Dispatcher, fetch as undiciFetch } from "undici";

/**
 * The probe's connections: through an HTTP container's port guard (its credential opens each
 * connection and is never an HTTP header), or for url instances with the guarded lookup, so a
 * name that resolves to a forbidden address is refused when it is dialled.
 */
function dispatcherFor(guard: string | undefined, lookup: LookupFunction | undefined): Agent {
  if (guard !== undefined) {
    return new Agent({
      connect: (options, callback) => {
        const socket = dialGuarded(guard, {
          host: options.hostname,
          port: Number(options.port) || 80,
          noDelay: true,
        });
        let settled = false;
        const settle = (error: Error | null) => {
          if (settled) return;
          settled = true;
          socket.off("error", settle);
          if (error) callback(error, null);
          else callback(null, socket);
        };
        socket.once("connect", () => settle(null));
        socket.once("error", settle);
      },
    });
  }
  return new Agent(lookup ? { connect: { lookup } } : {});
}

/** A fetch for an endpoint the runtime hands out, and the HTTP headers to send with it. */
export interface EndpointFetch {
  /** The endpoint's headers without the guard credential (that opens each connection). */
  headers: Record<string, string>;
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/**
 * How to talk to an endpoint the runtime hands out (what RuntimeService.ResolveEndpoint
 * answers): through an HTTP container's port guard, or with the guarded lookup for url names.
 */
export function endpointFetch(
  endpointHeaders: Record<string, string>,
  lookup?: LookupFunction,
): EndpointFetch {
  const { headers, guard } = splitGuard(endpointHeaders);
  const dispatcher: Dispatcher = dispatcherFor(guard, lookup);
  return {
    headers,
    fetch: ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, { ...(init as object), dispatcher })) as never,
    close: () => dispatcher.destroy().catch(() => undefined),
  };
}
