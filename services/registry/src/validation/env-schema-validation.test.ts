import {
  type EnvVarSchema,
  EnvVarSchemaSchema,
  EnvVarType,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { validateInputs } from "./env-schema-validation.js";

type Init = MessageInitShape<typeof EnvVarSchemaSchema>;
const env = (init: Init): EnvVarSchema => create(EnvVarSchemaSchema, init);
const check = (...inputs: Init[]) =>
  validateInputs(inputs.map(env), "server.env_schema").map((v) => v.field);

describe("env_schema validation", () => {
  it("accepts a schema using every type, choices and defaults", () => {
    expect(
      check(
        { name: "API_KEY", type: EnvVarType.STRING, required: true, secret: true },
        { name: "RETRIES", type: EnvVarType.INTEGER, defaultValue: "-3" },
        { name: "RATIO", type: EnvVarType.NUMBER, defaultValue: "1.5e3" },
        { name: "DEBUG", type: EnvVarType.BOOLEAN, defaultValue: "false" },
        { name: "CONFIG", type: EnvVarType.FILEPATH, defaultValue: "/etc/app.json" },
        { name: "_MODE", choices: ["a", "b"], defaultValue: "b" },
      ),
    ).toEqual([]);
  });

  it("rejects names that are not environment variable names", () => {
    expect(
      check({ name: "1ABC" }, { name: "MY-VAR" }, { name: "HAS SPACE" }, { name: "" }),
    ).toEqual([
      "server.env_schema[0].name",
      "server.env_schema[1].name",
      "server.env_schema[2].name",
      "server.env_schema[3].name",
    ]);
  });

  it("rejects duplicate names", () => {
    expect(check({ name: "A" }, { name: "B" }, { name: "A" })).toEqual([
      "server.env_schema[2].name",
    ]);
  });

  it("rejects defaults that do not fit their type", () => {
    expect(
      check(
        { name: "A", type: EnvVarType.INTEGER, defaultValue: "1.5" },
        { name: "B", type: EnvVarType.NUMBER, defaultValue: "1.2.3" },
        { name: "C", type: EnvVarType.BOOLEAN, defaultValue: "yes" },
        { name: "D", type: EnvVarType.FILEPATH, defaultValue: "" },
      ),
    ).toEqual([
      "server.env_schema[0].default_value",
      "server.env_schema[1].default_value",
      "server.env_schema[2].default_value",
      "server.env_schema[3].default_value",
    ]);
  });

  it("rejects a default outside the choices, and choices that do not fit the type", () => {
    expect(
      check(
        { name: "A", choices: ["x", "y"], defaultValue: "z" },
        { name: "B", type: EnvVarType.INTEGER, choices: ["1", "two"] },
        { name: "C", choices: ["x", "x"] },
      ),
    ).toEqual([
      "server.env_schema[0].default_value",
      "server.env_schema[1].choices[1]",
      "server.env_schema[2].choices[1]",
    ]);
  });

  it("rejects a secret with a default, without echoing the value", () => {
    const violations = validateInputs(
      [env({ name: "TOKEN", secret: true, defaultValue: "hunter2-very-secret" })],
      "server.env_schema",
    );
    expect(violations.map((v) => v.field)).toEqual(["server.env_schema[0].default_value"]);
    expect(JSON.stringify(violations)).not.toContain("hunter2");
  });

  it("rejects an unknown type number", () => {
    expect(check({ name: "A", type: 42 as EnvVarType })).toEqual(["server.env_schema[0].type"]);
  });
});
