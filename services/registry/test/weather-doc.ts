import type { JsonObject } from "@bufbuild/protobuf";
import { SCHEMA_URL } from "../src/server-json/import.js";

/** A document using most of schema 2025-12-11: three package types, inputs, remotes. */
export function weatherDoc(version = "1.2.0"): JsonObject {
  return {
    $schema: SCHEMA_URL,
    name: "io.github.acme/weather",
    title: "Weather",
    description: "Forecasts and alerts from the Acme weather API",
    version,
    websiteUrl: "https://acme.example/weather",
    repository: { url: "https://github.com/acme/weather", source: "github", id: "123" },
    packages: [
      {
        registryType: "npm",
        identifier: "@acme/weather-mcp",
        version,
        runtimeHint: "npx",
        transport: { type: "stdio" },
      },
      {
        registryType: "oci",
        identifier: "ghcr.io/acme/weather:1.2.0",
        transport: { type: "streamable-http", url: "http://localhost:8080/mcp" },
        packageArguments: [
          { type: "named", name: "--units", default: "metric" },
          { type: "positional", valueHint: "city" },
        ],
        environmentVariables: [
          { name: "WEATHER_API_KEY", description: "API key", isRequired: true, isSecret: true },
          { name: "UNITS", format: "string", choices: ["metric", "imperial"], default: "metric" },
          { name: "TIMEOUT", format: "number", value: "30", placeholder: "seconds" },
          { name: "CACHE_DIR", format: "filepath" },
        ],
      },
      { registryType: "pypi", identifier: "acme-weather", version, transport: { type: "stdio" } },
    ],
    remotes: [
      {
        type: "streamable-http",
        url: "https://{region}.weather.acme.example/mcp",
        headers: [
          { name: "X-Client", value: "berth" },
          { name: "Authorization", description: "Bearer token", isRequired: true, isSecret: true },
        ],
        variables: { region: { description: "Region", default: "eu", choices: ["eu", "us"] } },
      },
    ],
    _meta: { "io.modelcontextprotocol.registry/publisher-provided": { tool: "test" } },
  };
}

/** The weather catalog entry as the REST tests create it (protobuf JSON of McpServer). */
export const weatherEntry = {
  name: "io.github.acme/weather",
  title: "Weather",
  description: "Forecasts for any city",
  version: "1.0.0",
  tags: ["weather", "demo"],
  isPublic: true,
  status: "SERVER_STATUS_ACTIVE",
  image: "ghcr.io/acme/weather:1.0.0",
  transport: "TRANSPORT_STREAMABLE_HTTP",
  port: 8080,
  path: "/mcp",
  envSchema: [
    { name: "API_KEY", type: "ENV_VAR_TYPE_STRING", required: true, secret: true },
    { name: "UNITS", choices: ["metric", "imperial"], defaultValue: "metric" },
  ],
};
