import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";
import type { HttpRequest } from "../http/types.js";

/** The address a call came from (the TCP peer), for limits per client such as failed logins. */
export const CLIENT_ADDRESS = createContextKey<string | undefined>(undefined, {
  description: "the TCP peer address of the caller",
});

/** The TCP peer address of a request. */
export function clientAddressOf(req: HttpRequest): string | undefined {
  return req.socket?.remoteAddress;
}

/** Context values carrying the request's client address to interceptors. */
export function clientContextValues(req: HttpRequest): ContextValues {
  return createContextValues().set(CLIENT_ADDRESS, clientAddressOf(req));
}
