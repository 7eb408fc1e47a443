import { type EnvVarSchema, EnvVarType } from "@berth/sdk";

/** One input of the create-instance form, generated from one env_schema variable. */
export interface EnvField {
  /** The variable's name: the input's name and the key of its value. */
  readonly name: string;
  readonly label: string;
  readonly description: string;
  /** password: a write-only secret; select: one of the choices; checkbox: a boolean. */
  readonly kind: "text" | "number" | "password" | "select" | "checkbox";
  readonly required: boolean;
  /** The value the form starts with (the variable's default; never a secret's). */
  readonly initial: string;
  /** For select: the choices, in the catalog's order. */
  readonly choices: readonly string[];
  readonly secret: boolean;
}

/** The form's values: variable name to what the user typed (checkboxes: "true"/"false"). */
export type EnvValues = Readonly<Record<string, string>>;

/**
 * The form of a catalog entry's env_schema: secrets as password inputs (never pre-filled, the
 * server applies a secret's default itself), choices as selects, booleans as checkboxes,
 * numbers as number inputs, defaults filled in.
 */
export function envFields(schema: readonly EnvVarSchema[]): EnvField[] {
  return schema.map((variable) => {
    const choices = [...variable.choices];
    const kind: EnvField["kind"] = variable.secret
      ? "password"
      : choices.length > 0
        ? "select"
        : variable.type === EnvVarType.BOOLEAN
          ? "checkbox"
          : variable.type === EnvVarType.INTEGER || variable.type === EnvVarType.NUMBER
            ? "number"
            : "text";
    const initial = variable.secret
      ? ""
      : (variable.defaultValue ?? (kind === "select" && variable.required ? choices[0]! : ""));
    return {
      name: variable.name,
      label: variable.name,
      description: variable.description,
      kind,
      required: variable.required,
      initial: kind === "checkbox" && initial === "" ? "false" : initial,
      choices,
      secret: variable.secret,
    };
  });
}

/**
 * The request parts of the form's values: plain variables go to json_spec.environment, secrets
 * to the write-only `secrets` map. Empty inputs are left out, so the server applies defaults and
 * reports a missing required variable at its field.
 */
export function splitEnvValues(
  fields: readonly EnvField[],
  values: EnvValues,
): { environment: Record<string, string>; secrets: Record<string, string> } {
  const environment: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.name] ?? field.initial;
    if (value === "") continue;
    (field.secret ? secrets : environment)[field.name] = value;
  }
  return { environment, secrets };
}

/**
 * The variable a field violation names (`instance.json_spec.environment.X`, `secrets.X`), or
 * undefined for a violation of another part of the request.
 */
export function envViolationField(path: string): string | undefined {
  const match = /^(?:instance\.json_spec\.environment|secrets)\.(.+)$/.exec(path);
  return match?.[1];
}
