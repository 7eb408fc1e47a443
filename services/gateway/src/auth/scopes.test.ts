import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { describe, expect, it } from "vitest";
import { allows, requiredScope } from "./scopes.js";

describe("scopes", () => {
  it("derives read for methods without side effects and GET bindings, write otherwise", () => {
    const { method: registry } = RegistryService;
    const { method: instances } = InstancesService;
    expect(requiredScope(registry.getServer)).toBe("read");
    expect(requiredScope(registry.listServers)).toBe("read");
    expect(requiredScope(registry.exportServer)).toBe("read");
    expect(requiredScope(instances.watchInstance)).toBe("read");
    expect(requiredScope(registry.createServer)).toBe("write");
    expect(requiredScope(registry.deleteServer)).toBe("write");
    expect(requiredScope(instances.startInstance)).toBe("write");
  });

  it("needs admin for every API key method, reads included", () => {
    for (const method of ApiKeysService.methods) expect(requiredScope(method)).toBe("admin");
  });

  it("needs admin for dead letters, listing included: events may name any instance", () => {
    for (const method of DeadLettersService.methods) expect(requiredScope(method)).toBe("admin");
  });

  it("orders admin over write over read, with mcp apart", () => {
    expect(allows(["admin"], "write")).toBe(true);
    expect(allows(["admin"], "mcp")).toBe(true);
    expect(allows(["write"], "read")).toBe(true);
    expect(allows(["write"], "admin")).toBe(false);
    expect(allows(["read"], "write")).toBe(false);
    expect(allows(["read"], "mcp")).toBe(false);
    expect(allows(["mcp"], "read")).toBe(false);
    expect(allows(["mcp", "read"], "read")).toBe(true);
    expect(allows([], "read")).toBe(false);
  });
});
