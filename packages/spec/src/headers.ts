import { LIMITS } from "./limits.js";
import { hasControlCharacter, isObject, type Problems } from "./problems.js";

/** An HTTP token (RFC 9110 §5.6.2): the only shape a header name may have. */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Headers a url instance may not set: hop-by-hop and framing headers would let one instance's
 * request end early or smuggle another into a shared connection; host and forwarding headers
 * would reroute it.
 */
/**
 * Headers that describe one hop's connection and framing (RFC 9110 §7.6.1, HTTP/2's own), never
 * the message: a proxy neither takes them from a caller nor passes them on.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "content-length",
  "content-encoding",
  "host",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

const FORBIDDEN = new Set([
  ...HOP_BY_HOP_HEADERS,
  "expect",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
]);

/** Credentials: they belong in authentication, which is stored encrypted. */
const CREDENTIALS = new Set(["authorization", "cookie", "proxy-authorization"]);

/** Why a header name is refused, or undefined when it may be set. */
export function headerNameProblem(name: string): string | undefined {
  if (name.length > LIMITS.headerName) return `must be at most ${LIMITS.headerName} characters`;
  if (!TOKEN.test(name)) return "is not a header name (letters, digits and !#$%&'*+.^_`|~- only)";
  const lower = name.toLowerCase();
  if (CREDENTIALS.has(lower))
    return "must be set through authentication, which is stored encrypted";
  if (
    FORBIDDEN.has(lower) ||
    lower.startsWith("proxy-") ||
    lower.startsWith("sec-") ||
    lower.startsWith(":")
  )
    return "is a hop-by-hop, framing or routing header, which Berth sets itself";
  return undefined;
}

/** Why a header value is refused, or undefined. */
export function headerValueProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  if (value.length > LIMITS.headerValue) return `must be at most ${LIMITS.headerValue} characters`;
  // CR and LF would end the header and start another; NUL and other controls are never valid.
  if (hasControlCharacter(value.replaceAll("\t", " ")))
    return "must not contain control characters (CR, LF, NUL, …)";
  return undefined;
}

/** Checks a url spec's headers: names, values, count; each problem names `<at>.<name>`. */
export function checkHeaders(value: unknown, at: string, problems: Problems): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    problems.add(at, "must be an object of header values");
    return;
  }
  const names = Object.keys(value);
  if (names.length > LIMITS.headers)
    problems.add(at, `must have at most ${LIMITS.headers} headers`);
  const seen = new Set<string>();
  for (const name of names) {
    const problem = headerNameProblem(name) ?? headerValueProblem(value[name]);
    if (problem) problems.add(`${at}.${name}`, problem);
    else if (seen.has(name.toLowerCase()))
      problems.add(`${at}.${name}`, "is given twice (header names ignore case)");
    seen.add(name.toLowerCase());
  }
}
