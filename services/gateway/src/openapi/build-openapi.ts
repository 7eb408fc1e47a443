import type { DescField, DescMessage, DescService, JsonObject } from "@bufbuild/protobuf";
import { requiredScope } from "../auth/scopes.js";
import { createRouteTable } from "../http/routes.js";
import type { Route } from "../http/types.js";
import { errorSchema, extraPaths } from "./extra-paths.js";
import { fieldSchema, messageSchema, type SchemaComponents } from "./json-schema.js";
import { commentOf } from "./source-comments.js";

/** Options of buildOpenApi. */
export interface OpenApiOptions {
  title: string;
  version: string;
  description: string;
}

const PARAM_TYPES = new Set([
  "google.protobuf.FieldMask",
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
]);

/**
 * An OpenAPI 3.1 document of the REST routes of the services (from their google.api.http rules),
 * with the scope each operation needs, the gateway's own paths and its error shape. Comments come
 * from the descriptors' source info when present.
 */
export function buildOpenApi(
  services: readonly DescService[],
  options: OpenApiOptions,
): JsonObject {
  const components: SchemaComponents = { Error: errorSchema() };
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of createRouteTable(services).routes) {
    const path = route.template.source.replace(/\{([^}=]+)(=[^}]*)?\}/g, "{$1}");
    paths[path] ??= {};
    paths[path][route.httpMethod.toLowerCase()] = operation(route, components);
  }
  return {
    openapi: "3.1.0",
    info: { title: options.title, version: options.version, description: options.description },
    servers: [{ url: "http://127.0.0.1:8080" }],
    security: [{ bearerAuth: [] }],
    tags: services.map((s) => ({ name: s.name, description: commentOf(s) ?? s.typeName })),
    paths: { ...sortKeys(paths), ...extraPaths() },
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "An API key: berth_<id>_<secret>.",
        },
        apiKeyHeader: { type: "apiKey", in: "header", name: "x-api-key" },
      },
      schemas: sortKeys(components),
    },
  } as JsonObject;
}

function operation(route: Route, components: SchemaComponents): JsonObject {
  const { method } = route;
  const comment = commentOf(method);
  const scope = requiredScope(method);
  const bound = route.template.variables.map((v) => v.fieldPath.join("."));
  const parameters: JsonObject[] = route.template.variables.map((v) => ({
    name: v.fieldPath.join("."),
    in: "path",
    required: true,
    schema: leafSchema(method.input, v.fieldPath, components),
  }));
  if (route.body === "") parameters.push(...queryParameters(method.input, bound, components));
  const op: JsonObject = {
    operationId: `${method.parent.name}_${method.name}`,
    tags: [method.parent.name],
    summary: comment?.split("\n")[0] ?? method.name,
    description:
      `${comment ?? ""}\n\nNeeds the \`${scope}\` scope. RPC: \`${method.parent.typeName}/${method.name}\`.`.trim(),
    "x-berth-scope": scope,
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: {
      "200": {
        description:
          method.methodKind === "server_streaming"
            ? "A stream of messages, one JSON object per line."
            : "OK",
        content: {
          [method.methodKind === "server_streaming" ? "application/x-ndjson" : "application/json"]:
            {
              schema: responseSchema(route, components),
            },
        },
      },
      default: {
        description: "An error.",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    },
  };
  if (route.body !== "") {
    const field =
      route.body === "*" ? undefined : method.input.fields.find((f) => f.name === route.body);
    const schema = field ? fieldSchema(field, components) : messageSchema(method.input, components);
    op.requestBody = { required: true, content: { "application/json": { schema } } };
  }
  return op;
}

function responseSchema(route: Route, components: SchemaComponents): JsonObject {
  const field = route.method.output.fields.find((f) => f.name === route.responseBody);
  return field ? fieldSchema(field, components) : messageSchema(route.method.output, components);
}

function leafSchema(
  message: DescMessage,
  path: readonly string[],
  components: SchemaComponents,
): JsonObject {
  let field: DescField | undefined;
  let current: DescMessage | undefined = message;
  for (const name of path) {
    field = current?.fields.find((f) => f.name === name);
    current = field?.fieldKind === "message" ? field.message : undefined;
  }
  return field ? fieldSchema(field, components) : { type: "string" };
}

/** Query parameters: every scalar field the path does not bind, nested messages one level deep. */
function queryParameters(
  message: DescMessage,
  bound: string[],
  components: SchemaComponents,
): JsonObject[] {
  const params: JsonObject[] = [];
  const add = (name: string, field: DescField) => {
    if (bound.includes(name)) return;
    const schema = fieldSchema(field, components);
    params.push({
      name,
      in: "query",
      required: false,
      schema,
      ...(field.fieldKind === "list" ? { explode: true } : {}),
    });
  };
  for (const field of message.fields) {
    const nested =
      field.fieldKind === "message" && !PARAM_TYPES.has(field.message.typeName)
        ? field.message
        : undefined;
    if (field.fieldKind === "map" || bound.some((b) => b.startsWith(`${field.name}.`) && !nested))
      continue;
    if (!nested) {
      add(field.name, field);
      continue;
    }
    for (const inner of nested.fields) {
      if (inner.fieldKind === "scalar" || inner.fieldKind === "enum")
        add(`${field.name}.${inner.name}`, inner);
    }
  }
  return params;
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
