import {
  type EnvVarSchema,
  EnvVarSchemaSchema,
  EnvVarType,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import type { JsonObject, JsonReader } from "./json-reader.js";

const FORMATS: Record<string, EnvVarType> = {
  string: EnvVarType.STRING,
  number: EnvVarType.NUMBER,
  boolean: EnvVarType.BOOLEAN,
  filepath: EnvVarType.FILEPATH,
};

/** The server.json `format` of a type (server.json has no integer: it is a number there). */
export function formatOf(type: EnvVarType): string {
  if (type === EnvVarType.INTEGER || type === EnvVarType.NUMBER) return "number";
  if (type === EnvVarType.BOOLEAN) return "boolean";
  if (type === EnvVarType.FILEPATH) return "filepath";
  return "string";
}

/**
 * An Input / KeyValueInput of server.json as an EnvVarSchema. A fixed `value` of a non-secret
 * input becomes its default (Berth lets instances override it).
 */
export function inputFromJson(
  reader: JsonReader,
  input: JsonObject,
  path: string,
  name: string,
): EnvVarSchema {
  const format = reader.string(input, "format", path) ?? "string";
  const type = FORMATS[format];
  if (type === undefined)
    reader.fail(`${path}.format`, "must be string, number, boolean or filepath");
  const secret = reader.boolean(input, "isSecret", path);
  const value = reader.string(input, "value", path);
  // A template such as "Bearer {token}" is fine; a literal secret would be kept and exported.
  if (secret && value !== undefined && !/\{[^{}]+\}/.test(value))
    reader.fail(`${path}.value`, "a secret cannot have a fixed value: each instance provides it");
  const fallback = secret ? undefined : value;
  return create(EnvVarSchemaSchema, {
    name,
    type: type ?? EnvVarType.STRING,
    description: reader.string(input, "description", path) ?? "",
    required: reader.boolean(input, "isRequired", path),
    secret,
    defaultValue: reader.string(input, "default", path) ?? fallback,
    choices: reader.strings(input, "choices", path),
  });
}

/** server.json names of the EnvVarSchema fields validateInputs reports. */
const JSON_NAMES: Record<string, string> = {
  name: "name",
  type: "format",
  description: "description",
  default_value: "default",
  choices: "choices",
};

/** Rewrites a violation path of validateInputs (proto names) into server.json names. */
export function jsonInputPath(field: string): string {
  return field.replace(/\.([a-z_]+)(\[\d+\])?$/, (_, name: string, index: string | undefined) => {
    return `.${JSON_NAMES[name] ?? name}${index ?? ""}`;
  });
}

/** Sets obj[key] to value unless its current effective value (absent = fallback) already is. */
function setOrDelete(obj: JsonObject, key: string, value: unknown, fallback: unknown): void {
  const current = obj[key] ?? fallback;
  if (JSON.stringify(current) === JSON.stringify(value)) return;
  if (JSON.stringify(value) === JSON.stringify(fallback)) delete obj[key];
  else obj[key] = value;
}

/**
 * The server.json form of an input, starting from the document's original object so that fields
 * Berth does not model (placeholder, variables…) and unchanged spellings survive an export.
 */
export function inputToJson(
  input: EnvVarSchema,
  original: JsonObject | undefined,
  withName: boolean,
): JsonObject {
  const out: JsonObject = withName ? { name: input.name, ...original } : { ...original };
  if (withName) out.name = input.name;
  setOrDelete(out, "description", input.description, "");
  setOrDelete(out, "isRequired", input.required, false);
  setOrDelete(out, "format", formatOf(input.type), "string");
  setOrDelete(out, "isSecret", input.secret, false);
  const fromValue = out.default === undefined && !input.secret && out.value !== undefined;
  if (input.defaultValue === undefined) {
    delete out.default;
    if (!input.secret) delete out.value;
  } else if (!(fromValue && out.value === input.defaultValue)) {
    out.default = input.defaultValue;
    if (fromValue) delete out.value;
  }
  setOrDelete(out, "choices", input.choices, []);
  return out;
}
