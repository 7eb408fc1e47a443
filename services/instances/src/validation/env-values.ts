import { type EnvVarSchema, EnvVarType } from "@berth/proto/gen/berth/registry/v1/registry_pb";

/** Why a value does not fit its variable's type and choices (never quoting the value), or undefined. */
export function envValueProblem(variable: EnvVarSchema, value: string): string | undefined {
  switch (variable.type) {
    case EnvVarType.INTEGER:
      if (!/^[+-]?\d+$/.test(value.trim())) return "must be an integer";
      break;
    case EnvVarType.NUMBER:
      if (value.trim() === "" || !Number.isFinite(Number(value))) return "must be a number";
      break;
    case EnvVarType.BOOLEAN:
      if (!/^(true|false)$/i.test(value)) return "must be true or false";
      break;
    case EnvVarType.FILEPATH:
      if (value === "" || value.includes("\0")) return "must be a file path";
      break;
    default:
      break;
  }
  if (variable.choices.length > 0 && !variable.choices.includes(value))
    return variable.secret
      ? "is not one of the allowed choices"
      : `must be one of ${variable.choices.join(", ")}`;
  return undefined;
}
