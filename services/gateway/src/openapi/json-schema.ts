import { FieldBehavior, field_behavior } from "@berth/proto/gen/google/api/field_behavior_pb";
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  getOption,
  hasOption,
  type JsonObject,
  ScalarType,
} from "@bufbuild/protobuf";
import { commentOf } from "./source-comments.js";

/** Schemas of the messages and enums seen so far, by full name (OpenAPI components). */
export type SchemaComponents = Record<string, JsonObject>;

/** A reference to a component schema. */
export function ref(typeName: string): JsonObject {
  return { $ref: `#/components/schemas/${typeName}` };
}

// Well-known types have a JSON form of their own (the proto3 JSON mapping).
const WELL_KNOWN: Record<string, JsonObject> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated field paths." },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string" } },
    additionalProperties: true,
  },
};

function scalarSchema(type: ScalarType): JsonObject {
  switch (type) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // 64-bit integers are JSON strings in the proto3 mapping (numbers are accepted on input).
      return { type: ["string", "integer"], format: "int64" };
    default:
      return { type: "integer", format: "int32" };
  }
}

function enumSchema(desc: DescEnum): JsonObject {
  return { type: "string", enum: desc.values.map((v) => v.name) };
}

/** The schema of a message by reference, adding it (and what it uses) to the components. */
export function messageSchema(desc: DescMessage, components: SchemaComponents): JsonObject {
  const known = WELL_KNOWN[desc.typeName];
  if (known) return known;
  if (!components[desc.typeName]) {
    components[desc.typeName] = {}; // Placeholder first: messages may refer to themselves.
    const properties: Record<string, JsonObject> = {};
    const required: string[] = [];
    for (const field of desc.fields) {
      properties[field.jsonName] = fieldSchema(field, components);
      if (behaviors(field).includes(FieldBehavior.REQUIRED)) required.push(field.jsonName);
    }
    const description = commentOf(desc);
    components[desc.typeName] = {
      type: "object",
      ...(description ? { description } : {}),
      properties,
      ...(required.length > 0 ? { required } : {}),
    };
  }
  return ref(desc.typeName);
}

/** The schema of one field: its type, repetition, comment and behavior (read-only, write-only). */
export function fieldSchema(field: DescField, components: SchemaComponents): JsonObject {
  const single = (): JsonObject => {
    if (field.fieldKind === "map") {
      const value =
        field.mapKind === "message"
          ? messageSchema(field.message, components)
          : field.mapKind === "enum"
            ? enumSchema(field.enum)
            : scalarSchema(field.scalar);
      return { type: "object", additionalProperties: value };
    }
    const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
    if (kind === "message") return messageSchema(field.message!, components);
    if (kind === "enum") return enumSchema(field.enum!);
    return scalarSchema(field.scalar!);
  };
  const base = field.fieldKind === "list" ? { type: "array", items: single() } : single();
  const extra: JsonObject = {};
  const description = commentOf(field);
  if (description) extra.description = description;
  if (behaviors(field).includes(FieldBehavior.OUTPUT_ONLY)) extra.readOnly = true;
  if (behaviors(field).includes(FieldBehavior.INPUT_ONLY)) extra.writeOnly = true;
  if (Object.keys(extra).length === 0) return base;
  // OpenAPI 3.1 allows siblings next to $ref.
  return { ...base, ...extra };
}

function behaviors(field: DescField): FieldBehavior[] {
  return hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
}
