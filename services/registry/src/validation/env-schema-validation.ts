import type { FieldViolation } from "@berth/platform";
import { type EnvVarSchema, EnvVarType } from "@berth/proto/gen/berth/registry/v1/registry_pb";

/** POSIX-style environment variable names: a letter or underscore, then letters, digits, underscores. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** HTTP header field names (RFC 9110 tokens). */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const INTEGER = /^[-+]?\d+$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Whether a value (as the string an instance would set) fits an input type. */
export function fitsType(type: EnvVarType, value: string): boolean {
  switch (type) {
    case EnvVarType.INTEGER:
      return INTEGER.test(value);
    case EnvVarType.NUMBER:
      return NUMBER.test(value);
    case EnvVarType.BOOLEAN:
      return value === "true" || value === "false";
    case EnvVarType.FILEPATH:
      return value.length > 0 && !value.includes("\0");
    default:
      return !value.includes("\0");
  }
}

/** How validateInputs checks names, and what it says about a bad one. */
export interface InputRules {
  name: RegExp;
  nameRule: string;
}

/** The rules of environment variable names. */
export const ENV_RULES: InputRules = {
  name: ENV_NAME,
  nameRule:
    "must be a valid environment variable name (letters, digits and _, not starting with a digit)",
};

/**
 * Checks input declarations (env_schema, remote headers and URL variables): names valid and
 * unique, known types, choices and defaults that fit the type, no default on a secret.
 */
export function validateInputs(
  inputs: readonly EnvVarSchema[],
  prefix: string,
  rules: InputRules = ENV_RULES,
  paths?: readonly string[],
): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string) => violations.push({ field, description });
  const seen = new Set<string>();
  inputs.forEach((input, i) => {
    // Each input's own path when given (e.g. server.json headers), else prefix[i].
    const at = paths?.[i] ?? `${prefix}[${i}]`;
    if (!input.name) add(`${at}.name`, "is required");
    else if (input.name.length > 255 || !rules.name.test(input.name))
      add(`${at}.name`, rules.nameRule);
    else if (seen.has(input.name)) add(`${at}.name`, `duplicates the name ${input.name}`);
    seen.add(input.name);
    if (!(input.type in EnvVarType)) add(`${at}.type`, "is not a known type");
    const type = input.type;
    if (input.description.length > 4096)
      add(`${at}.description`, "must be at most 4096 characters");
    const choices = new Set<string>();
    input.choices.forEach((choice, c) => {
      if (!fitsType(type, choice)) add(`${at}.choices[${c}]`, `is not a valid ${typeName(type)}`);
      else if (choices.has(choice)) add(`${at}.choices[${c}]`, "duplicates another choice");
      choices.add(choice);
    });
    if (input.defaultValue !== undefined) {
      if (input.secret) add(`${at}.default_value`, "a secret cannot have a default value");
      else if (!fitsType(type, input.defaultValue))
        add(`${at}.default_value`, `is not a valid ${typeName(type)}`);
      else if (choices.size > 0 && !choices.has(input.defaultValue))
        add(`${at}.default_value`, "must be one of the choices");
    }
  });
  return violations;
}

/** Lowercase type name for messages, e.g. "integer". */
export function typeName(type: EnvVarType): string {
  return type === EnvVarType.UNSPECIFIED ? "string" : (EnvVarType[type] ?? "value").toLowerCase();
}
