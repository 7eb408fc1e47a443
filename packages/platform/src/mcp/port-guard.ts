import * as net from "node:net";

/**
 * The header name under which the runtime hands out an HTTP-transport container's guard
 * credential (RuntimeService.ResolveEndpoint, the health probe). It is never sent as an HTTP
 * header: callers take it out with splitGuard and open each connection with guardPreamble.
 */
export const GUARD_HEADER = "x-berth-guard";

/** An endpoint's headers without the guard credential, and the credential when there is one. */
export function splitGuard(headers: Record<string, string>): {
  headers: Record<string, string>;
  guard?: string;
} {
  const guard = headers[GUARD_HEADER];
  if (guard === undefined) return { headers };
  const { [GUARD_HEADER]: _, ...rest } = headers;
  return { headers: rest, guard };
}

/**
 * The line a connection to a port guard opens with (deploy/images/guard/berth-guard.cjs): the
 * guard checks and consumes it, then pipes the rest of the connection to the MCP server as it is.
 */
export function guardPreamble(guard: string): string {
  return `BERTH-GUARD ${guard}\r\n`;
}

/**
 * Dials a port guard: a TCP connection whose first bytes are the preamble, written before any
 * HTTP (net queues them until the connection is up). Usable as an http.Agent's createConnection.
 */
export function dialGuarded(guard: string, options: net.NetConnectOpts): net.Socket {
  const socket = net.createConnection(options);
  socket.write(guardPreamble(guard));
  return socket;
}
