import { http } from "@berth/proto/gen/google/api/annotations_pb";
import type { HttpRule } from "@berth/proto/gen/google/api/http_pb";
import {
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import {
  InvalidPathError,
  matchPathTemplate,
  parsePathTemplate,
  splitRequestPath,
  templateShape,
} from "./path-template.js";
import type { Route, RouteMatch, RouteTable, TemplateSegment } from "./types.js";

/** An HttpRule that cannot be served: bad template, unknown field, conflict with another rule. */
export class RouteTableError extends Error {
  constructor(method: DescMethod, reason: string, cause?: unknown) {
    super(`${method.parent.typeName}.${method.name}: ${reason}`, { cause });
    this.name = "RouteTableError";
  }
}

/** Builds the routes of every annotated method of the services; throws RouteTableError on a bad rule. */
export function createRouteTable(services: readonly DescService[]): RouteTable {
  const routes = services.flatMap((service) =>
    service.methods.filter((m) => hasOption(m, http)).flatMap((m) => routesOf(m)),
  );
  const seen = new Map<string, Route>();
  for (const route of routes) {
    const key = `${route.httpMethod} ${templateShape(route.template)}`;
    const other = seen.get(key);
    if (other) {
      const name = `${other.service.typeName}.${other.method.name}`;
      throw new RouteTableError(route.method, `${key} conflicts with ${name}`);
    }
    seen.set(key, route);
  }
  // Most specific first: at the first differing segment a literal beats `*`, which beats `**`.
  routes.sort((a, b) => compareSegments(a.template.segments, b.template.segments));
  return { routes, match: (httpMethod, path) => match(routes, httpMethod.toUpperCase(), path) };
}

function match(routes: readonly Route[], httpMethod: string, path: string): RouteMatch {
  let segments: string[];
  try {
    segments = splitRequestPath(path);
  } catch (error) {
    if (error instanceof InvalidPathError) return { status: 400, message: error.message };
    throw error;
  }
  const allow = new Set<string>();
  for (const route of routes) {
    const bindings = matchPathTemplate(route.template, segments);
    if (!bindings) continue;
    if (route.httpMethod === httpMethod) return { route, bindings };
    allow.add(route.httpMethod);
  }
  return allow.size > 0 ? { status: 405, allow: [...allow].sort() } : { status: 404 };
}

function routesOf(method: DescMethod): Route[] {
  if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming") {
    throw new RouteTableError(method, "client-streaming methods cannot be mapped to REST");
  }
  const rule = getOption(method, http);
  // Google's spec: additional bindings do not nest.
  const rules = [rule, ...rule.additionalBindings];
  return rules.filter((r) => r.pattern.case !== undefined).map((r) => toRoute(method, r));
}

function toRoute(method: DescMethod, rule: HttpRule): Route {
  const { pattern } = rule;
  const [httpMethod, path] =
    pattern.case === "custom"
      ? [pattern.value.kind.toUpperCase(), pattern.value.path]
      : [pattern.case?.toUpperCase() ?? "", pattern.value ?? ""];
  let template: Route["template"];
  try {
    template = parsePathTemplate(path);
  } catch (error) {
    throw new RouteTableError(method, (error as Error).message, error);
  }
  if (httpMethod === "GET" && rule.body !== "") {
    throw new RouteTableError(method, "a GET binding cannot have a body");
  }
  if (rule.body !== "" && rule.body !== "*") requireTopField(method, method.input, rule.body);
  if (rule.responseBody !== "") requireTopField(method, method.output, rule.responseBody);
  for (const variable of template.variables) requireLeaf(method, variable.fieldPath);
  const route = { service: method.parent, method, httpMethod, template };
  return { ...route, body: rule.body, responseBody: rule.responseBody };
}

function requireTopField(method: DescMethod, message: DescMessage, name: string): void {
  if (!message.fields.some((f) => f.name === name)) {
    throw new RouteTableError(method, `${message.typeName} has no field ${name}`);
  }
}

/** Path variables must name a singular scalar or enum, reached through singular messages. */
function requireLeaf(method: DescMethod, fieldPath: readonly string[]): void {
  let message: DescMessage | undefined = method.input;
  for (const [i, name] of fieldPath.entries()) {
    const field: DescField | undefined = message?.fields.find((f) => f.name === name);
    const last = i === fieldPath.length - 1;
    const ok = last
      ? field?.fieldKind === "scalar" || field?.fieldKind === "enum"
      : field?.fieldKind === "message";
    if (!ok) {
      const path = fieldPath.join(".");
      throw new RouteTableError(method, `path variable ${path} is not a singular scalar field`);
    }
    message = field?.fieldKind === "message" ? field.message : undefined;
  }
}

const RANK: Record<TemplateSegment["kind"], number> = { literal: 0, wildcard: 1, deep: 2 };

function compareSegments(a: readonly TemplateSegment[], b: readonly TemplateSegment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = RANK[a[i]!.kind] - RANK[b[i]!.kind];
    if (diff !== 0) return diff;
  }
  return b.length - a.length;
}
