import type { PathTemplate, TemplateSegment, TemplateVariable } from "./types.js";

/** A google.api.http path template that does not follow the grammar. */
export class PathTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`invalid path template ${JSON.stringify(template)}: ${reason}`);
    this.name = "PathTemplateError";
  }
}

/** A request path that no route may see: empty segments, dot segments, encoded slashes. */
export class InvalidPathError extends Error {
  constructor(reason: string) {
    super(`invalid path: ${reason}`);
    this.name = "InvalidPathError";
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL = /^[A-Za-z0-9._~!$&'()+,;=@-]+$/;

/** Parses a template such as `/v1/{name=projects/*\/things/*}:start` (Google's http.proto grammar). */
export function parsePathTemplate(source: string): PathTemplate {
  const fail = (reason: string): never => {
    throw new PathTemplateError(source, reason);
  };
  if (!source.startsWith("/")) fail("must start with /");
  // The verb is whatever follows the last ':' that lies outside every variable.
  const colon = source.lastIndexOf(":");
  const hasVerb = colon > source.lastIndexOf("}") && colon > source.lastIndexOf("/");
  const verb = hasVerb ? source.slice(colon + 1) : undefined;
  if (verb !== undefined && !LITERAL.test(verb)) fail("bad verb");
  const body = hasVerb ? source.slice(1, colon) : source.slice(1);
  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  for (const token of splitOutsideBraces(body) ?? fail("unbalanced braces")) {
    if (!token.startsWith("{")) {
      segments.push(parseSegment(token) ?? fail(`bad segment ${JSON.stringify(token)}`));
      continue;
    }
    const [field = "", pattern = "*", ...extra] = token.slice(1, -1).split("=");
    const fieldPath = field.split(".");
    if (extra.length > 0 || !fieldPath.every((p) => IDENT.test(p))) fail(`bad variable ${token}`);
    if (variables.some((v) => v.fieldPath.join(".") === field)) fail(`duplicate variable ${field}`);
    const start = segments.length;
    for (const part of pattern.split("/")) {
      segments.push(parseSegment(part) ?? fail(`bad segment ${JSON.stringify(part)} in ${token}`));
    }
    variables.push({ fieldPath, start, end: segments.length });
  }
  const deep = segments.findIndex((s) => s.kind === "deep");
  if (deep !== -1 && deep !== segments.length - 1) fail("** must be the last segment");
  return { source, segments, variables, verb };
}

function parseSegment(token: string): TemplateSegment | undefined {
  if (token === "*") return { kind: "wildcard" };
  if (token === "**") return { kind: "deep" };
  return LITERAL.test(token) ? { kind: "literal", value: token } : undefined;
}

function splitOutsideBraces(text: string): string[] | undefined {
  const tokens: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (ch === "/" && depth === 0) {
      tokens.push(current);
      current = "";
    } else current += ch;
  }
  return depth === 0 ? [...tokens, current] : undefined;
}

/** Splits a request path into its raw (still percent-encoded) segments, refusing path tricks. */
export function splitRequestPath(path: string): string[] {
  if (!path.startsWith("/")) throw new InvalidPathError("must start with /");
  if (path === "/") return [];
  return path
    .slice(1)
    .split("/")
    .map((raw) => {
      if (raw === "") throw new InvalidPathError("empty segment");
      if (/%2f/i.test(raw)) throw new InvalidPathError("encoded slash");
      const decoded = decodeSegment(raw);
      if (decoded === "." || decoded === "..") throw new InvalidPathError("dot segment");
      if (decoded.includes("\0")) throw new InvalidPathError("NUL character");
      return raw;
    });
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidPathError("malformed percent-encoding");
  }
}

/** Matches a path (or its raw segments) against a template; the bindings map field paths to decoded values. */
export function matchPathTemplate(
  template: PathTemplate,
  path: string | readonly string[],
): Record<string, string> | undefined {
  const raw = typeof path === "string" ? splitRequestPath(path) : [...path];
  const last = raw.length - 1;
  const lastSegment = raw[last];
  if (template.verb !== undefined) {
    const suffix = `:${template.verb}`;
    if (!lastSegment?.endsWith(suffix) || lastSegment.length === suffix.length) return undefined;
    raw[last] = lastSegment.slice(0, -suffix.length);
  } else if (lastSegment?.includes(":")) return undefined;
  const decoded = raw.map(decodeSegment);
  const { segments } = template;
  const deep = segments.at(-1)?.kind === "deep";
  if (deep ? decoded.length < segments.length - 1 : decoded.length !== segments.length)
    return undefined;
  for (const [i, segment] of segments.entries()) {
    if (segment.kind === "literal" && decoded[i] !== segment.value) return undefined;
  }
  // No prototype: a variable may be named like an Object.prototype member.
  const bindings: Record<string, string> = Object.create(null);
  for (const v of template.variables) {
    const end = v.end === segments.length && deep ? decoded.length : v.end;
    bindings[v.fieldPath.join(".")] = decoded.slice(v.start, end).join("/");
  }
  return bindings;
}

/** A key equal for two templates exactly when they match the same paths (used to detect conflicts). */
export function templateShape(template: PathTemplate): string {
  const parts = template.segments.map((s) => (s.kind === "literal" ? `=${s.value}` : s.kind));
  return `/${parts.join("/")}${template.verb === undefined ? "" : `:${template.verb}`}`;
}
