import type { FieldViolation } from "@berth/platform";
import type { VirtualServer } from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import { type MemberSpec, namespaceOf } from "./member-policy.js";

/** Virtual server names: what /mcp/v/{name} can carry, and never a UUID. */
export const VIRTUAL_SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** What may separate a prefix from a name (all valid in MCP tool names). */
export const SEPARATORS = ["_", "-", ".", "/", ":"] as const;
// MCP tool names (SEP-986): letters, digits and _ - . / ; ':' for namespaced names of peers.
const TOOL_NAME = /^[A-Za-z0-9_./:-]{1,128}$/;
const PATTERN = /^[A-Za-z0-9_./:*?-]{1,128}$/;
const INSTANCE_REF = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;
const MAX_MEMBERS = 32;
const MAX_LIST = 200;

/** Collects field violations. */
export type Add = (field: string, description: string) => void;

/** Checks a virtual server's own fields (not yet its members' instances); `at` is its field path. */
export function checkVirtualServerFields(
  vs: VirtualServer,
  at: string,
  paths: ReadonlySet<string>,
  add: Add,
): void {
  if (paths.has("name")) {
    if (vs.name === "") add(`${at}.name`, "is required");
    else if (!VIRTUAL_SERVER_NAME.test(vs.name) || UUID.test(vs.name))
      add(
        `${at}.name`,
        "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit, and not a UUID",
      );
  }
  if (paths.has("description") && vs.description.length > 1000)
    add(`${at}.description`, "must be at most 1000 characters");
  if (!paths.has("members")) return;
  if (vs.members.length === 0) add(`${at}.members`, "needs at least one member");
  if (vs.members.length > MAX_MEMBERS) add(`${at}.members`, `must list at most ${MAX_MEMBERS}`);
  vs.members.forEach((member, i) => {
    const m = `${at}.members[${i}]`;
    if (member.instance === "") add(`${m}.instance`, "is required");
    else if (!INSTANCE_REF.test(member.instance))
      add(`${m}.instance`, "must be an instance id or name");
    if (member.prefix !== undefined && member.prefix !== "" && !PREFIX.test(member.prefix))
      add(
        `${m}.prefix`,
        "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
      );
    if (member.separator !== "" && !SEPARATORS.includes(member.separator as never))
      add(`${m}.separator`, `must be one of ${SEPARATORS.join(" ")}`);
    const patterns = (list: readonly string[], field: string) => {
      if (list.length > MAX_LIST) add(`${m}.${field}`, `must list at most ${MAX_LIST}`);
      list.forEach((p, j) => {
        if (!PATTERN.test(p))
          add(`${m}.${field}[${j}]`, "must be a tool name or a pattern of them with * and ?");
      });
    };
    patterns(member.allowTools, "allow_tools");
    patterns(member.denyTools, "deny_tools");
    if (member.toolOverrides.length > MAX_LIST)
      add(`${m}.tool_overrides`, `must list at most ${MAX_LIST}`);
    const seen = new Set<string>();
    member.toolOverrides.forEach((o, j) => {
      const f = `${m}.tool_overrides[${j}]`;
      if (o.tool === "") add(`${f}.tool`, "is required");
      else if (!TOOL_NAME.test(o.tool)) add(`${f}.tool`, "must be a tool name");
      else if (seen.has(o.tool)) add(`${f}.tool`, `overrides ${JSON.stringify(o.tool)} twice`);
      seen.add(o.tool);
      if (o.name !== "" && !TOOL_NAME.test(o.name))
        add(`${f}.name`, "must be 1-128 letters, digits, '_', '-', '.', '/' or ':'");
      if (o.description.length > 4000) add(`${f}.description`, "must be at most 4000 characters");
      if (JSON.stringify(o.pinnedArguments ?? {}).length > 16_384)
        add(`${f}.pinned_arguments`, "must be at most 16 KiB of JSON");
      if (JSON.stringify(o.annotations ?? {}).length > 16_384)
        add(`${f}.annotations`, "must be at most 16 KiB of JSON");
    });
  });
}

/**
 * The write-time rule that keeps every exposed name traceable to one member: no instance twice,
 * no member's namespace (prefix + separator) equal to or the start of another's (an empty prefix
 * is therefore allowed only for a virtual server of one member), override names unique and never
 * inside another member's namespace. What is left to run time (a member's tool named like an
 * override) is settled by exposeTools' fixed order.
 */
export function checkNamespaces(members: readonly MemberSpec[], at: string, add: Add): void {
  const spaces = members.map(namespaceOf);
  members.forEach((member, i) => {
    const m = `${at}.members[${i}]`;
    const twin = members.findIndex((other) => other.instanceId === member.instanceId);
    if (twin < i) add(`${m}.instance`, `is already member ${twin}`);
    // Each overlapping pair is reported once, on the later member.
    for (let j = 0; j < i; j++) {
      const [mine, theirs] = [spaces[i]!, spaces[j]!];
      if (!mine.startsWith(theirs) && !theirs.startsWith(mine)) continue;
      add(
        `${m}.prefix`,
        mine === "" || theirs === ""
          ? `an empty prefix overlaps every other namespace (member ${j}): give each member of a virtual server with several members a prefix`
          : mine === theirs
            ? `namespace ${JSON.stringify(mine)} is also member ${j}'s: tool names would be ambiguous`
            : `namespace ${JSON.stringify(mine)} overlaps member ${j}'s namespace ${JSON.stringify(theirs)}: tool names would be ambiguous`,
      );
    }
  });
  const named = new Map<string, string>();
  members.forEach((member, i) => {
    member.overrides.forEach((o, j) => {
      if (o.name === "") return;
      const f = `${at}.members[${i}].tool_overrides[${j}].name`;
      const earlier = named.get(o.name);
      if (earlier) add(f, `${JSON.stringify(o.name)} is already the name of ${earlier}`);
      named.set(o.name, `members[${i}].tool_overrides[${j}]`);
      const owner = spaces.findIndex(
        (space, k) => k !== i && space !== "" && o.name.startsWith(space),
      );
      if (owner !== -1)
        add(
          f,
          `${JSON.stringify(o.name)} is inside member ${owner}'s namespace ${JSON.stringify(spaces[owner])}`,
        );
    });
  });
}

/** Runs checks and returns their violations. */
export function collect(check: (add: Add) => void): FieldViolation[] {
  const violations: FieldViolation[] = [];
  check((field, description) => violations.push({ field, description }));
  return violations;
}
