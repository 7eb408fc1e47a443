/** One problem with one field, in the shape of google.rpc.BadRequest.FieldViolation. */
export interface FieldProblem {
  /** Path of the field, e.g. `instance.json_spec.resources.memory_limit`. */
  field: string;
  description: string;
}

/** Collects every problem of a request, each naming its field, so all are reported at once. */
export interface Problems {
  add(field: string, description: string): void;
  readonly list: FieldProblem[];
}

/** A new, empty problem list. */
export function createProblems(): Problems {
  const list: FieldProblem[] = [];
  return { add: (field, description) => list.push({ field, description }), list };
}

/** A JSON object (not an array, not null). */
export type JsonRecord = { [key: string]: unknown };

/** Whether a value is a JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reports keys of an object that are not among the allowed ones. */
export function checkKnownKeys(
  value: JsonRecord,
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
export function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/** Whether a string holds a control character (C0, DEL): never valid in names, paths or headers. */
export function hasControlCharacter(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point.
  return /[\u0000-\u001f\u007f]/.test(value);
}
