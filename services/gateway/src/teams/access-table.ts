import { Code, ConnectError } from "@berth/platform";
import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { AuditService } from "@berth/proto/gen/berth/gateway/v1/audit_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { DelegationService } from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
import { TeamsService } from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import { UsersService } from "@berth/proto/gen/berth/gateway/v1/users_pb";
import { VirtualServersService } from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { DEFAULT_TEAM } from "@berth/spec";
import type { DescMethod } from "@bufbuild/protobuf";
import type { Principal } from "../auth/types.js";
import { type Action, roleAllows } from "./roles.js";
import { denied, roleIn, teamsWhere } from "./team-access.js";

/**
 * What a method needs, decided in one place:
 * - `team`: `action` on the team owning the object it names (or creates, or lists): the caller
 *   needs a team where their role allows it, and the handler checks the object's own team
 *   (NOT_FOUND across teams) or filters the list to the caller's teams;
 * - `platform`: `action` in the default team, whose members run the platform (the shared catalog,
 *   users, teams, dead letters, the audit trail);
 * - `member`: any membership at all (the shared catalog's reads, the caller's own teams).
 */
export interface AccessRule {
  readonly on: "team" | "platform" | "member";
  readonly action: Action;
}

const team = (action: Action): AccessRule => ({ on: "team", action });
const platform = (action: Action): AccessRule => ({ on: "platform", action });
const member: AccessRule = { on: "member", action: "read" };

/** Every public method of every service the gateway serves, and the MCP endpoints. */
const TABLE: Record<string, Record<string, AccessRule>> = {
  [RegistryService.typeName]: {
    CreateServer: platform("write"),
    GetServer: member,
    ListServers: member,
    UpdateServer: platform("write"),
    DeleteServer: platform("write"),
    ImportServer: platform("write"),
    ExportServer: member,
  },
  [InstancesService.typeName]: {
    CreateInstance: team("write"),
    GetInstance: team("read"),
    ListInstances: team("read"),
    UpdateInstance: team("write"),
    DeleteInstance: team("write"),
    StartInstance: team("write"),
    StopInstance: team("write"),
    RestartInstance: team("write"),
    SetInstanceSecret: team("write"),
    WatchInstance: team("read"),
    WatchInstances: team("read"),
  },
  [RuntimeService.typeName]: {
    GetWorkload: team("read"),
    // Workloads of every team at once: the platform's operators only.
    ListWorkloads: platform("read"),
    ListInstanceTools: team("read"),
    StreamLogs: team("read"),
  },
  [VirtualServersService.typeName]: {
    CreateVirtualServer: team("write"),
    GetVirtualServer: team("read"),
    ListVirtualServers: team("read"),
    UpdateVirtualServer: team("write"),
    DeleteVirtualServer: team("write"),
  },
  [ApiKeysService.typeName]: {
    CreateApiKey: team("manage"),
    GetApiKey: team("manage"),
    ListApiKeys: team("manage"),
    RevokeApiKey: team("manage"),
  },
  [TeamsService.typeName]: {
    CreateTeam: platform("manage"),
    GetTeam: member,
    ListTeams: member,
    DeleteTeam: platform("manage"),
    ListTeamMembers: team("read"),
    SetTeamMember: team("manage"),
    RemoveTeamMember: team("manage"),
  },
  [UsersService.typeName]: {
    CreateUser: platform("manage"),
    GetUser: platform("manage"),
    ListUsers: platform("manage"),
    DeleteUser: platform("manage"),
  },
  // The caller's own account at an instance's upstream: whoever may use the instance's tools.
  [DelegationService.typeName]: {
    ConnectInstance: team("call"),
    GetInstanceConnection: team("call"),
    DisconnectInstance: team("call"),
  },
  [DeadLettersService.typeName]: {
    ListDeadLetters: platform("manage"),
    ReplayDeadLetter: platform("manage"),
  },
  [AuditService.typeName]: {
    ListAuditRecords: platform("manage"),
  },
};

/** MCP traffic at /mcp/{instance} and /mcp/v/{name}: calling the tools of the team's servers. */
export const MCP_ACCESS: AccessRule = team("call");

/** The rule of an RPC; undefined for a method the table does not know (refused by the caller). */
export function accessRuleOf(method: DescMethod): AccessRule | undefined {
  return TABLE[method.parent.typeName]?.[method.name];
}

/**
 * Checks what the caller's roles allow before the method runs (PERMISSION_DENIED otherwise); the
 * object-level part of a `team` rule is the handler's. A method missing from the table is not
 * served at all (UNIMPLEMENTED, as the mesh's internal methods are to outside callers): a new
 * method must be given its row before anyone can call it.
 */
export function checkAccess(principal: Principal, rule: AccessRule | undefined): void {
  if (!rule) throw new ConnectError("this method is not served by the gateway", Code.Unimplemented);
  if (rule.on === "member") {
    if (principal.teams.size === 0) throw denied(undefined, "read", "any team");
    return;
  }
  if (rule.on === "platform") {
    const role = roleIn(principal, DEFAULT_TEAM);
    if (!role || !roleAllows(role, rule.action)) throw denied(role, rule.action, DEFAULT_TEAM);
    return;
  }
  if (teamsWhere(principal, rule.action).length === 0) {
    const roles = [...new Set(principal.teams.values())].join(", ");
    throw new ConnectError(
      `no team of the caller (roles: ${roles || "none"}) allows ${rule.action}`,
      Code.PermissionDenied,
    );
  }
}
