import type { JsonObject, JsonReader } from "./json-reader.js";

/**
 * The command-line words of a package's arguments that have a value of their own: positional
 * values, `--flag=value` for named ones, bare flags. Arguments that need a value from each user
 * cannot be part of the entry's defaults: they are reported as warnings.
 */
export function argumentWords(
  reader: JsonReader,
  pkg: JsonObject,
  key: "packageArguments" | "runtimeArguments",
  path: string,
): string[] {
  const words: string[] = [];
  reader.objects(pkg, key, path).forEach((arg, k) => {
    const at = `${path}.${key}[${k}]`;
    const type = reader.string(arg, "type", at, true);
    const value = reader.string(arg, "value", at) ?? reader.string(arg, "default", at);
    if (type === "positional") {
      if (value === undefined)
        reader.warnings.push(`${at}: needs a value from each user; not mapped`);
      else words.push(value);
    } else if (type === "named") {
      const name = reader.string(arg, "name", at, true);
      if (!name) return;
      if (value !== undefined) words.push(`${name}=${value}`);
      else if (arg.isRequired === true || arg.valueHint !== undefined)
        reader.warnings.push(`${at}: needs a value from each user; not mapped`);
      else words.push(name);
    } else if (type !== undefined) {
      reader.fail(`${at}.type`, "must be positional or named");
    }
  });
  return words;
}
