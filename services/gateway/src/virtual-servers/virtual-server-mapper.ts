import {
  ToolOverrideSchema,
  type VirtualServer,
  type VirtualServerMember,
  VirtualServerMemberSchema,
  VirtualServerSchema,
} from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MemberSpec } from "./member-policy.js";
import type { VirtualServerRow } from "./virtual-server-entity.js";

/** Where clients reach a virtual server. */
export function endpointOf(name: string): string {
  return `/mcp/v/${name}`;
}

/** The proto message of a stored virtual server. */
export function virtualServerFromRow(row: VirtualServerRow): VirtualServer {
  return create(VirtualServerSchema, {
    id: row.id,
    name: row.name,
    team: row.team,
    description: row.description,
    members: row.members.map(memberToProto),
    endpoint: endpointOf(row.name),
    revision: BigInt(row.revision),
    createTime: timestampFromDate(row.createTime),
    updateTime: timestampFromDate(row.updateTime),
  });
}

function memberToProto(member: MemberSpec): VirtualServerMember {
  return create(VirtualServerMemberSchema, {
    instance: member.instanceId,
    instanceName: member.instanceName,
    prefix: member.prefix,
    separator: member.separator,
    allowTools: [...member.allowTools],
    denyTools: [...member.denyTools],
    toolOverrides: member.overrides.map((o) =>
      create(ToolOverrideSchema, {
        tool: o.tool,
        name: o.name,
        description: o.description,
        annotations: o.annotations as JsonObject,
        pinnedArguments: o.pinnedArguments as JsonObject,
      }),
    ),
  });
}

/** A member as stored, once its instance is known (the prefix defaults to the instance's name). */
export function memberSpecOf(
  member: VirtualServerMember,
  instance: { id: string; name: string },
): MemberSpec {
  return {
    instanceId: instance.id,
    instanceName: instance.name,
    prefix: member.prefix ?? instance.name,
    separator: member.separator || "_",
    allowTools: [...new Set(member.allowTools)],
    denyTools: [...new Set(member.denyTools)],
    overrides: member.toolOverrides.map((o) => ({
      tool: o.tool,
      name: o.name,
      description: o.description,
      annotations: { ...(o.annotations ?? {}) },
      pinnedArguments: { ...(o.pinnedArguments ?? {}) },
    })),
  };
}
