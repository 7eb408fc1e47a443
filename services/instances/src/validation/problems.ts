import type { FieldViolation } from "@berth/platform";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/** Collects every problem of a request, each naming its field, so all are reported at once. */
export interface Problems {
  add(field: string, description: string): void;
  readonly list: FieldViolation[];
}

/** A new, empty problem list. */
export function createProblems(): Problems {
  const list: FieldViolation[] = [];
  return { add: (field, description) => list.push({ field, description }), list };
}

/** Whether a JSON value is an object (not an array, not null). */
export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reports keys of an object that are not among the allowed ones. */
export function checkKnownKeys(
  value: JsonObject,
  allowed: readonly string[],
  at: string,
  what: string,
  problems: Problems,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) problems.add(`${at}.${key}`, `is not a field of ${what}`);
  }
}

/** A JSON scalar as an environment value (numbers and booleans become their text), else undefined. */
export function scalarText(value: JsonValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}
