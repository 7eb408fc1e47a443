/** One input of the try-a-tool form, generated from one property of the tool's input schema. */
export interface ToolField {
  readonly name: string;
  readonly description: string;
  /** json: a textarea whose text is parsed as JSON (objects, arrays, anything else). */
  readonly kind: "text" | "number" | "integer" | "checkbox" | "select" | "json";
  readonly required: boolean;
  readonly initial: string;
  readonly choices: readonly string[];
}

type Schema = { [key: string]: unknown };

const isObject = (value: unknown): value is Schema =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The form of a tool's input schema (a JSON Schema object): one field per property. */
export function toolFields(inputSchema: unknown): ToolField[] {
  if (!isObject(inputSchema) || !isObject(inputSchema.properties)) return [];
  const required = new Set(Array.isArray(inputSchema.required) ? inputSchema.required : []);
  return Object.entries(inputSchema.properties).map(([name, raw]) => {
    const property = isObject(raw) ? raw : {};
    const type = Array.isArray(property.type) ? property.type[0] : property.type;
    const choices = Array.isArray(property.enum) ? property.enum.map(String) : [];
    const kind: ToolField["kind"] =
      choices.length > 0
        ? "select"
        : type === "string"
          ? "text"
          : type === "number"
            ? "number"
            : type === "integer"
              ? "integer"
              : type === "boolean"
                ? "checkbox"
                : "json";
    const fallback = kind === "checkbox" ? "false" : kind === "select" ? (choices[0] ?? "") : "";
    return {
      name,
      description: typeof property.description === "string" ? property.description : "",
      kind,
      required: required.has(name),
      initial:
        property.default === undefined
          ? fallback
          : kind === "json"
            ? JSON.stringify(property.default)
            : String(property.default),
      choices,
    };
  });
}

/**
 * The tool call's arguments from the form's values, or the fields whose text is not a value of
 * their type. Empty optional inputs are left out.
 */
export function toolArguments(
  fields: readonly ToolField[],
  values: Readonly<Record<string, string>>,
): { arguments: Record<string, unknown>; errors: Record<string, string> } {
  const args: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const text = values[field.name] ?? field.initial;
    if (text === "" && field.kind !== "checkbox") {
      if (field.required) errors[field.name] = "is required";
      continue;
    }
    switch (field.kind) {
      case "checkbox":
        args[field.name] = text === "true";
        break;
      case "number":
      case "integer": {
        const number = Number(text);
        if (!Number.isFinite(number) || (field.kind === "integer" && !Number.isInteger(number)))
          errors[field.name] = `must be ${field.kind === "integer" ? "an integer" : "a number"}`;
        else args[field.name] = number;
        break;
      }
      case "json":
        try {
          args[field.name] = JSON.parse(text);
        } catch {
          errors[field.name] = "must be JSON";
        }
        break;
      default:
        args[field.name] = text;
    }
  }
  return { arguments: args, errors };
}
