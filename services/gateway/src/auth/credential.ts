import type { IncomingHttpHeaders } from "node:http";
import type { HeaderReader } from "./types.js";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The API key a request presents: `authorization: Bearer <key>`, or `x-api-key: <key>`. */
export function credentialOf(header: HeaderReader): string | undefined {
  const authorization = header("authorization");
  if (authorization !== undefined) return BEARER.exec(authorization)?.[1] ?? "";
  const apiKey = header("x-api-key");
  return apiKey?.trim();
}

/** A HeaderReader over Fetch Headers (Connect interceptors). */
export function fromHeaders(headers: Headers): HeaderReader {
  return (name) => headers.get(name) ?? undefined;
}

/** A HeaderReader over Node's request headers (a repeated header is refused as ambiguous). */
export function fromNodeHeaders(headers: IncomingHttpHeaders): HeaderReader {
  return (name) => {
    const value = headers[name];
    return Array.isArray(value) ? "" : value;
  };
}
