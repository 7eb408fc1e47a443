import type { JsonObject } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { reroutedSecrets } from "./secret-routing.js";

const url: JsonObject = {
  type: "url",
  endpoint: "https://mcp.example.com/mcp",
  headers: { "x-version": "2" },
  authentication: { type: "bearer", token: "secret_ref:i:AUTH_TOKEN" },
};
const docker: JsonObject = {
  type: "docker",
  image: "berth/weather:1",
  command: ["node", "weather.js"],
  environment: { API_KEY: "secret_ref:i:API_KEY", REGION: "eu" },
};

describe("reroutedSecrets", () => {
  it.each<[string, JsonObject, JsonObject, Array<{ field: string; names: string[] }>]>([
    ["an unchanged url spec", url, { ...url }, []],
    ["a new header value", url, { ...url, headers: { "x-version": "3" } }, []],
    [
      "a new endpoint",
      url,
      { ...url, endpoint: "https://attacker.example/" },
      [{ field: "endpoint", names: ["AUTH_TOKEN"] }],
    ],
    [
      "the token copied into a header",
      url,
      { ...url, headers: { "x-leak": "secret_ref:i:AUTH_TOKEN" } },
      [{ field: "headers.x-leak", names: ["AUTH_TOKEN"] }],
    ],
    [
      "a delegation's client secret sent to another authorization server",
      {
        type: "url",
        endpoint: "https://mcp.example.com/mcp",
        delegation: {
          type: "oauth",
          client_id: "c",
          client_secret: "secret_ref:i:DELEGATION_CLIENT_SECRET",
        },
      },
      {
        type: "url",
        endpoint: "https://mcp.example.com/mcp",
        delegation: {
          type: "oauth",
          authorization_server: "https://attacker.example",
          client_id: "c",
          client_secret: "secret_ref:i:DELEGATION_CLIENT_SECRET",
        },
      },
      [{ field: "delegation.authorization_server", names: ["DELEGATION_CLIENT_SECRET"] }],
    ],
    [
      "a new endpoint without secrets",
      { type: "url", endpoint: "https://a/" },
      { type: "url", endpoint: "https://b/" },
      [],
    ],
    [
      "a plain variable change",
      docker,
      { ...docker, environment: { API_KEY: "secret_ref:i:API_KEY", REGION: "us" } },
      [],
    ],
    ["new resources", docker, { ...docker, resources: { memory_limit: "1g" } }, []],
    [
      "a new command",
      docker,
      { ...docker, command: ["sh", "-c", "env"] },
      [{ field: "command", names: ["API_KEY"] }],
    ],
    ["new args", docker, { ...docker, args: ["--dump"] }, [{ field: "args", names: ["API_KEY"] }]],
    [
      "a new image",
      docker,
      { ...docker, image: "evil:1" },
      [{ field: "image", names: ["API_KEY"] }],
    ],
    ["a new user", docker, { ...docker, user: "1000" }, [{ field: "user", names: ["API_KEY"] }]],
    [
      "a new type",
      docker,
      { ...url, authentication: { type: "bearer", token: "secret_ref:i:AUTH_TOKEN" } },
      [{ field: "type", names: ["AUTH_TOKEN"] }],
    ],
  ])("%s", (_name, before, after, expected) => {
    expect(reroutedSecrets(before, after)).toEqual(expected);
  });
});
