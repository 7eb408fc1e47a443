import type { FieldViolation } from "@berth/platform";

/** A JSON object as parsed from a document. */
export type JsonObject = { [key: string]: unknown };

/** Whether a value is a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads typed values out of an untrusted JSON document, collecting one violation per bad field
 * (named by its JSON path under the request field, e.g. `server_json.packages[0].identifier`).
 */
export class JsonReader {
  readonly violations: FieldViolation[] = [];
  readonly warnings: string[] = [];

  constructor(readonly root: string) {}

  /** Records a problem with the field at `path` (relative to the document). */
  fail(path: string, description: string): void {
    this.violations.push({ field: path ? `${this.root}.${path}` : this.root, description });
  }

  /** An optional string; a wrong type is a violation and reads as undefined. */
  string(obj: JsonObject, key: string, path: string, required = false): string | undefined {
    const value = obj[key];
    if (value === undefined || value === null) {
      if (required) this.fail(join(path, key), "is required");
      return undefined;
    }
    if (typeof value !== "string") {
      this.fail(join(path, key), "must be a string");
      return undefined;
    }
    if (required && value === "") this.fail(join(path, key), "must not be empty");
    return value;
  }

  /** An optional boolean (false when absent). */
  boolean(obj: JsonObject, key: string, path: string): boolean {
    const value = obj[key];
    if (value === undefined || value === null) return false;
    if (typeof value !== "boolean") this.fail(join(path, key), "must be true or false");
    return value === true;
  }

  /** An optional array of objects (empty when absent or when any item is not an object). */
  objects(obj: JsonObject, key: string, path: string): JsonObject[] {
    const value = obj[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.fail(join(path, key), "must be an array");
      return [];
    }
    const bad = value.findIndex((item) => !isObject(item));
    if (bad === -1) return value as JsonObject[];
    // Indexes in later paths must match the document's, so stop at the first bad item.
    this.fail(`${join(path, key)}[${bad}]`, "must be an object");
    return [];
  }

  /** An optional array of strings (empty when absent). */
  strings(obj: JsonObject, key: string, path: string): string[] {
    const value = obj[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
      this.fail(join(path, key), "must be an array of strings");
      return [];
    }
    return value as string[];
  }

  /** An optional object (undefined when absent). */
  object(obj: JsonObject, key: string, path: string): JsonObject | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) this.fail(join(path, key), "must be an object");
    return isObject(value) ? value : undefined;
  }
}

/** `a.b` (or `b` at the root). */
export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
