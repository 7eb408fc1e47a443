import { type FieldViolation, invalidArgument } from "@berth/platform";
import {
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  ScalarType,
} from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";

/** The JSON that sets one request field from one query parameter (or path variable). */
export interface FieldAssignment {
  /** The parameter as the client wrote it, e.g. `page_size` or `filter.tag`: errors name it. */
  readonly param: string;
  /** The field path in proto names, e.g. `filter.tag`. */
  readonly fieldPath: string;
  /** A partial JSON form of the request that sets exactly this field. */
  readonly json: JsonObject;
}

/**
 * Resolves every query parameter to a request field and converts its values by the field's type:
 * scalars, enums by name or number, repeated fields as repeated parameters (`tag=a&tag=b`), nested
 * fields with dots, FieldMask as `a,b`. Fields in `reserved` (set by the path or the body) and
 * unknown parameters are INVALID_ARGUMENT naming the parameter.
 */
export function parseQuery(
  schema: DescMessage,
  query: URLSearchParams,
  reserved: readonly string[],
): FieldAssignment[] {
  const assignments: FieldAssignment[] = [];
  const seen = new Set<string>();
  for (const param of new Set(query.keys())) {
    const fields = resolveFields(schema, param.split("."));
    if (!fields)
      throw violation(param, "unknown query parameter", `unknown query parameter "${param}"`);
    const fieldPath = fields.map((f) => f.name).join(".");
    if (reserved.some((r) => r === "*" || fieldPath === r || fieldPath.startsWith(`${r}.`))) {
      const message = `query parameter "${param}" is set by the path or the body`;
      throw violation(param, "set by the path or the body", message);
    }
    if (seen.has(fieldPath)) throw violation(param, "given twice under different names");
    seen.add(fieldPath);
    assignments.push({ param, fieldPath, json: nestedJson(fields, query.getAll(param), param) });
  }
  return assignments;
}

/** The JSON that sets the field at `names` (proto names) to the value of a path variable. */
export function bindingJson(
  schema: DescMessage,
  names: readonly string[],
  value: string,
): JsonObject {
  const fields = resolveFields(schema, names);
  const param = names.join(".");
  if (!fields) throw violation(param, "unknown field");
  return nestedJson(fields, [value], param);
}

/** Walks singular message fields by proto or JSON name; undefined when a segment is unknown. */
function resolveFields(schema: DescMessage, names: readonly string[]): DescField[] | undefined {
  const fields: DescField[] = [];
  let message: DescMessage | undefined = schema;
  for (const name of names) {
    const field: DescField | undefined = message?.fields.find(
      (f) => f.name === name || f.jsonName === name,
    );
    if (!field) return undefined;
    fields.push(field);
    message = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}

function nestedJson(fields: readonly DescField[], values: string[], param: string): JsonObject {
  const leaf = fields.at(-1)!;
  let json: JsonValue = leafJson(leaf, values, param);
  for (const field of [...fields].reverse()) json = { [field.jsonName]: json };
  return json as JsonObject;
}

function leafJson(field: DescField, values: string[], param: string): JsonValue {
  if (field.fieldKind === "map") throw violation(param, "map fields cannot be set from the query");
  if (field.fieldKind === "list") {
    if (field.listKind === "scalar") return values.map((v) => scalarJson(field.scalar, v, param));
    if (field.listKind === "enum") return values.map(enumJson);
    return values.map((v) => messageJson(field.message, v, param));
  }
  if (values.length !== 1)
    throw violation(param, "repeated value for a field that is not repeated");
  const value = values[0]!;
  if (field.fieldKind === "scalar") return scalarJson(field.scalar, value, param);
  if (field.fieldKind === "enum") return enumJson(value);
  return messageJson(field.message, value, param);
}

/** Query strings carry text; proto JSON accepts numbers (even 64-bit) as strings, but not booleans. */
function scalarJson(type: ScalarType, value: string, param: string): JsonValue {
  if (type !== ScalarType.BOOL) return value;
  if (value === "true" || value === "false") return value === "true";
  throw violation(param, "expected true or false");
}

function enumJson(value: string): JsonValue {
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

/** Only messages with a scalar JSON form (Timestamp, Duration, FieldMask, wrappers) fit a parameter. */
function messageJson(message: DescMessage, value: string, param: string): JsonValue {
  if (isWrapperDesc(message)) return scalarJson(message.fields[0].scalar, value, param);
  switch (message.typeName) {
    case "google.protobuf.FieldMask":
      // Accept snake_case paths (as in the proto) and lowerCamelCase (as in JSON).
      return value
        .split(",")
        .map((p) => p.trim().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
        .join(",");
    case "google.protobuf.Timestamp":
    case "google.protobuf.Duration":
      return value;
    default:
      throw violation(param, `${message.typeName} cannot be set from the query`);
  }
}

function violation(field: string, description: string, message?: string) {
  const v: FieldViolation = { field, description };
  return invalidArgument([v], message);
}
