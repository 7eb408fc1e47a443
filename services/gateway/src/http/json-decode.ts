import { type FieldViolation, invalidArgument } from "@berth/platform";
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonValue,
  type Message,
  mergeFromJson,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";

/**
 * Merges a JSON value into a message like mergeFromJson; a failure becomes INVALID_ARGUMENT with
 * a field violation naming the field (`server.env_schema[1].type`) or, when given, `param`.
 * Descriptions say what was expected and never echo the value, which may be a secret.
 */
export function mergeJson(
  schema: DescMessage,
  target: Message,
  json: JsonValue,
  registry: Registry,
  param?: string,
): void {
  try {
    mergeFromJson(schema, target, json, { registry });
  } catch {
    // protobuf-es messages quote the offending value (maybe a secret): locate it ourselves.
    const found = locate(schema, json, "", registry);
    const v = param === undefined ? found : { field: param, description: found.description };
    throw invalidArgument([v], undefined);
  }
}

/** Finds the first field of `json` that does not decode, by decoding one key at a time. */
function locate(
  schema: DescMessage,
  json: JsonValue,
  path: string,
  registry: Registry,
): FieldViolation {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { field: path || "body", description: "expected an object" };
  }
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    const fieldPath = join(path, field?.name ?? key);
    if (!field) return { field: fieldPath, description: "unknown field" };
    if (decodes(schema, { [key]: value }, registry)) continue;
    if (field.fieldKind === "message" && isPlain(field.message) && value !== null) {
      return locate(field.message, value, fieldPath, registry);
    }
    if (field.fieldKind === "list" && Array.isArray(value)) {
      for (const [i, item] of value.entries()) {
        if (decodes(schema, { [key]: [item] }, registry)) continue;
        if (field.listKind === "message" && isPlain(field.message)) {
          return locate(field.message, item, `${fieldPath}[${i}]`, registry);
        }
        return { field: `${fieldPath}[${i}]`, description: describe(field, true) };
      }
    }
    if (field.fieldKind === "map" && isObject(value)) {
      for (const [k, item] of Object.entries(value)) {
        if (decodes(schema, { [key]: { [k]: item } }, registry)) continue;
        const entryPath = `${fieldPath}[${JSON.stringify(k)}]`;
        if (field.mapKind === "message" && isPlain(field.message)) {
          return locate(field.message, item, entryPath, registry);
        }
        return { field: entryPath, description: describe(field, true) };
      }
    }
    return { field: fieldPath, description: describe(field) };
  }
  // Every key decodes alone: the keys conflict (two members of one oneof).
  return {
    field: path || "body",
    description: "conflicting fields (only one of a oneof may be set)",
  };
}

function decodes(schema: DescMessage, json: JsonValue, registry: Registry): boolean {
  try {
    fromJson(schema, json, { registry });
    return true;
  } catch {
    return false;
  }
}

/** Messages with an ordinary object JSON form; well-known types have special forms and are leaves. */
function isPlain(message: DescMessage): boolean {
  return !message.file.name.startsWith("google/protobuf/");
}

function isObject(value: JsonValue): value is { [k: string]: JsonValue } {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

const MESSAGE_FORMS: Record<string, string> = {
  "google.protobuf.Timestamp": "an RFC 3339 timestamp such as 2025-01-31T12:00:00Z",
  "google.protobuf.Duration": 'a duration such as "1.5s"',
  "google.protobuf.FieldMask": 'comma-separated lowerCamelCase paths such as "title,envSchema"',
  "google.protobuf.Struct": "an object",
  "google.protobuf.ListValue": "an array",
  "google.protobuf.Any": 'an object with a known "@type"',
};

/** What a field accepts; `element` describes one item of a list or one value of a map. */
function describe(field: DescField, element = false): string {
  switch (field.fieldKind) {
    case "scalar":
      return `expected ${scalarName(field.scalar)}`;
    case "enum":
      return `expected ${enumForm(field)}`;
    case "message":
      return `expected ${messageForm(field.message)}`;
    case "list":
    case "map": {
      const kind = field.fieldKind === "list" ? field.listKind : field.mapKind;
      const item =
        kind === "scalar" && field.scalar !== undefined
          ? scalarName(field.scalar)
          : kind === "enum" && field.enum
            ? enumForm(field)
            : messageForm(field.message!);
      if (element) return `expected ${item}`;
      return field.fieldKind === "list"
        ? `expected an array of ${item}`
        : `expected an object of ${item}`;
    }
  }
}

function enumForm(field: { enum?: DescEnum }): string {
  return `one of ${field.enum?.values.map((v) => v.name).join(", ")} (or its number)`;
}

function messageForm(message: DescMessage): string {
  if (isWrapperDesc(message)) return `${scalarName(message.fields[0].scalar)} or null`;
  return MESSAGE_FORMS[message.typeName] ?? "an object";
}

function scalarName(type: ScalarType): string {
  if (type === ScalarType.BYTES) return "base64 bytes";
  if (type === ScalarType.BOOL) return "a boolean";
  if (type === ScalarType.STRING) return "a string";
  return `a number (${ScalarType[type].toLowerCase()})`;
}
