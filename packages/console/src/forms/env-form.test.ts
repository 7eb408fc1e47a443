import { EnvVarSchemaSchema, EnvVarType } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { envFields, envViolationField, splitEnvValues } from "./env-form.js";

const variable = (init: Parameters<typeof create<typeof EnvVarSchemaSchema>>[1]) =>
  create(EnvVarSchemaSchema, init);

describe("the create form generated from an env_schema", () => {
  const fields = envFields([
    variable({ name: "API_KEY", required: true, secret: true, defaultValue: "never-shown" }),
    variable({ name: "REGION", choices: ["eu", "us"], defaultValue: "us" }),
    variable({ name: "MODE", choices: ["a", "b"], required: true }),
    variable({ name: "DEBUG", type: EnvVarType.BOOLEAN }),
    variable({ name: "PORT", type: EnvVarType.INTEGER, defaultValue: "8080" }),
    variable({ name: "GREETING", defaultValue: "hello" }),
  ]);

  it("makes secrets write-only password inputs that never start with a value", () => {
    expect(fields[0]).toMatchObject({
      kind: "password",
      required: true,
      initial: "",
      secret: true,
    });
  });

  it("makes choices selects, booleans checkboxes, numbers number inputs, defaults filled", () => {
    expect(fields.map((f) => [f.name, f.kind, f.initial])).toEqual([
      ["API_KEY", "password", ""],
      ["REGION", "select", "us"],
      ["MODE", "select", "a"],
      ["DEBUG", "checkbox", "false"],
      ["PORT", "number", "8080"],
      ["GREETING", "text", "hello"],
    ]);
  });

  it("sends secrets in the write-only map, the rest as environment, empty inputs not at all", () => {
    expect(splitEnvValues(fields, { API_KEY: "sk-1", GREETING: "" })).toEqual({
      environment: { REGION: "us", MODE: "a", DEBUG: "false", PORT: "8080" },
      secrets: { API_KEY: "sk-1" },
    });
  });

  it("finds the variable a field violation names", () => {
    expect(envViolationField("instance.json_spec.environment.API_KEY")).toBe("API_KEY");
    expect(envViolationField("secrets.API_KEY")).toBe("API_KEY");
    expect(envViolationField("instance.name")).toBeUndefined();
  });
});
