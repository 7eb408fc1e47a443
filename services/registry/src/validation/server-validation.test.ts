import { McpServerSchema, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { serverViolations } from "./server-validation.js";

const entry = (fields: Omit<MessageInitShape<typeof McpServerSchema>, "$typeName">) =>
  create(McpServerSchema, {
    name: "sleepy",
    image: "berth/mcp-everything:stdio",
    transport: Transport.STDIO,
    ...fields,
  });

describe("idle_timeout_seconds of a catalog entry", () => {
  it("accepts 0 (no default) and a timeout for entries with an image", () => {
    expect(serverViolations(entry({ idleTimeoutSeconds: 0 }))).toEqual([]);
    expect(serverViolations(entry({ idleTimeoutSeconds: 600 }))).toEqual([]);
  });

  it("refuses a negative or too long timeout, and one for an entry without an image", () => {
    expect(serverViolations(entry({ idleTimeoutSeconds: -1 }))).toEqual([
      {
        field: "server.idle_timeout_seconds",
        description: "must be from 0 (no default) to 2592000 seconds",
      },
    ]);
    expect(serverViolations(entry({ idleTimeoutSeconds: 2_592_001 }))[0]?.field).toBe(
      "server.idle_timeout_seconds",
    );
    const remote = entry({
      image: "",
      idleTimeoutSeconds: 60,
      remotes: [{ url: "https://mcp.example.com/mcp", transport: Transport.STREAMABLE_HTTP }],
    });
    expect(serverViolations(remote)).toEqual([
      {
        field: "server.idle_timeout_seconds",
        description: "applies only to entries with an image (url instances never idle)",
      },
    ]);
  });
});

describe("a remote's default delegation", () => {
  const remoteEntry = (delegation: JsonObject) =>
    entry({
      image: "",
      remotes: [
        { url: "https://mcp.example.com/mcp", transport: Transport.STREAMABLE_HTTP, delegation },
      ],
    });

  it("accepts a json_spec delegation", () => {
    expect(
      serverViolations(remoteEntry({ type: "oauth", client_id: "berth", scopes: ["read"] })),
    ).toEqual([]);
  });

  it("names each bad field, and refuses a client secret in the catalog", () => {
    const fields = serverViolations(
      remoteEntry({ type: "saml", client_id: "c", client_secret: "s", extra: 1 }),
    ).map((v) => v.field);
    expect(fields.sort()).toEqual([
      "server.remotes[0].delegation.client_secret",
      "server.remotes[0].delegation.extra",
      "server.remotes[0].delegation.type",
    ]);
  });
});
