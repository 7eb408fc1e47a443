import { DEFAULT_TEAM } from "@berth/spec";
import { describe, expect, it } from "vitest";
import type { Principal } from "../auth/types.js";
import { PUBLIC_SERVICES } from "../openapi/public-services.js";
import { accessRuleOf, checkAccess } from "./access-table.js";
import type { Role } from "./roles.js";

const principal = (teams: Record<string, Role>): Principal => ({
  keyId: "0123456789abcdef",
  scopes: ["admin"],
  teams: new Map(Object.entries(teams)),
  instances: [],
  virtualServers: [],
  rateLimitPerSecond: 0,
  rateLimitBurst: 0,
  expireTime: null,
});

describe("the access table", () => {
  it("has a row for every public method: a new method cannot be called before it gets one", () => {
    const missing = PUBLIC_SERVICES.flatMap((service) =>
      service.methods.filter((m) => !accessRuleOf(m)).map((m) => `${service.typeName}.${m.name}`),
    );
    // Internal methods (no HTTP binding) are not served by the gateway at all.
    const served = missing.filter(
      (name) => !/ResolveEndpoint|WakeInstance|ReportActivity/.test(name),
    );
    expect(served).toEqual([]);
  });

  it("lets each role do its acts and refuses the others", () => {
    const rule = (service: number, name: string) =>
      accessRuleOf(PUBLIC_SERVICES[service]!.methods.find((m) => m.name === name)!);
    const instances = PUBLIC_SERVICES.findIndex((s) => s.name === "InstancesService");
    const keys = PUBLIC_SERVICES.findIndex((s) => s.name === "ApiKeysService");
    const users = PUBLIC_SERVICES.findIndex((s) => s.name === "UsersService");
    const cases: Array<[Role, number, string, boolean]> = [
      ["viewer", instances, "ListInstances", true],
      ["viewer", instances, "CreateInstance", false],
      ["agent", instances, "GetInstance", false],
      ["editor", instances, "DeleteInstance", true],
      ["editor", keys, "CreateApiKey", false],
      ["admin", keys, "CreateApiKey", true],
    ];
    for (const [role, service, name, allowed] of cases) {
      const check = () => checkAccess(principal({ red: role }), rule(service, name));
      if (allowed) expect(check, `${role} ${name}`).not.toThrow();
      else expect(check, `${role} ${name}`).toThrow(/may not|allows/);
    }
    // Platform acts need the default team's admin, whatever one's role elsewhere.
    expect(() => checkAccess(principal({ red: "admin" }), rule(users, "ListUsers"))).toThrow();
    expect(() =>
      checkAccess(principal({ [DEFAULT_TEAM]: "admin" }), rule(users, "ListUsers")),
    ).not.toThrow();
  });
});
