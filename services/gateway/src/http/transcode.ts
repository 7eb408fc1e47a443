import { Code, ConnectError } from "@berth/platform";
import {
  create,
  type DescField,
  type DescMessage,
  type JsonValue,
  type Message,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { mergeJson } from "./json-decode.js";
import { jsonErrorPosition } from "./json-position.js";
import { bindingJson, parseQuery } from "./query-params.js";
import type { Route } from "./types.js";

/** Parses a request body as JSON; malformed text is INVALID_ARGUMENT naming the position. */
export function parseJsonBody(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    // V8's message may quote the input; say only where it went wrong.
    const position = jsonErrorPosition(text) ?? text.length;
    throw new ConnectError(`malformed JSON at position ${position}`, Code.InvalidArgument);
  }
}

/**
 * Builds the request message of a route: the body per the rule (`*`: the whole request; a field
 * name: that field; none: no body allowed), then query parameters for fields that neither the path
 * nor the body set, then the path variables, which win over both.
 */
export function buildRequest(
  route: Route,
  bindings: Readonly<Record<string, string>>,
  query: URLSearchParams,
  body: JsonValue | undefined,
  registry: Registry,
): Message {
  const input = route.method.input;
  const message = create(input);
  if (route.body === "" && body !== undefined) {
    throw new ConnectError("this method takes no request body", Code.InvalidArgument);
  }
  if (route.body === "*" && body !== undefined) mergeJson(input, message, body, registry);
  if (route.body !== "" && route.body !== "*" && body !== undefined) {
    const field = fieldNamed(input, route.body);
    mergeJson(input, message, { [field.jsonName]: body }, registry);
  }
  const variables = route.template.variables.map((v) => v.fieldPath.join("."));
  const reserved = route.body === "" ? variables : [...variables, route.body];
  for (const assignment of parseQuery(input, query, reserved)) {
    mergeJson(input, message, assignment.json, registry, assignment.param);
  }
  for (const [path, value] of Object.entries(bindings)) {
    mergeJson(input, message, bindingJson(input, path.split("."), value), registry, path);
  }
  return message;
}

/** The JSON a REST caller receives: the whole response, or its response_body field. */
export function responseJson(route: Route, response: Message, registry: Registry): JsonValue {
  const output = route.method.output;
  if (route.responseBody === "") return toJson(output, response, { registry });
  const field = fieldNamed(output, route.responseBody);
  if (field.fieldKind === "message") {
    // An unset message field still answers `{}` (or its well-known JSON form), never nothing.
    const value = reflect(output, response).get(field);
    return toJson(field.message, value.message, { registry });
  }
  const all = toJson(output, response, { registry, alwaysEmitImplicit: true });
  return (all as { [k: string]: JsonValue })[field.jsonName] ?? null;
}

function fieldNamed(message: DescMessage, name: string): DescField {
  const field = message.fields.find((f) => f.name === name);
  // createRouteTable checked every body and response_body field.
  if (!field) throw new Error(`${message.typeName} has no field ${name}`);
  return field;
}
