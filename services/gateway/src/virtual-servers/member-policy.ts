import type { Tool } from "@modelcontextprotocol/sdk/types.js";

/** A per-tool override as stored: the member's own tool name and what changes. */
export interface ToolOverrideSpec {
  readonly tool: string;
  /** The full name clients see; empty keeps prefix + separator + tool. */
  readonly name: string;
  readonly description: string;
  readonly annotations: Readonly<Record<string, unknown>>;
  readonly pinnedArguments: Readonly<Record<string, unknown>>;
}

/** A member of a virtual server as stored: bound to an instance id, with its policy. */
export interface MemberSpec {
  readonly instanceId: string;
  /** The instance's name when the member was written (the default prefix). */
  readonly instanceName: string;
  /** Empty: no prefix. */
  readonly prefix: string;
  readonly separator: string;
  readonly allowTools: readonly string[];
  readonly denyTools: readonly string[];
  readonly overrides: readonly ToolOverrideSpec[];
}

/** A tool as a virtual server shows it, and where calls to it go. */
export interface ExposedTool {
  /** The name clients see. */
  readonly name: string;
  /** Index of the owning member. */
  readonly member: number;
  /** The member's own name of the tool. */
  readonly original: string;
  /** What tools/list shows. */
  readonly tool: Tool;
  /** Arguments always sent, whatever the caller gives. */
  readonly pinned: Readonly<Record<string, unknown>>;
  /** Whether the name comes from an override (explicit names win collisions). */
  readonly renamed: boolean;
}

/** A tool left out because an earlier or explicitly named tool has its name. */
export interface Collision {
  readonly name: string;
  readonly member: number;
  readonly original: string;
  readonly keptMember: number;
}

const GLOB_CACHE = new Map<string, RegExp>();

/** Whether a name matches a glob pattern: `*` any run of characters, `?` one; all else literal. */
export function globMatches(pattern: string, name: string): boolean {
  let re = GLOB_CACHE.get(pattern);
  if (!re) {
    const body = pattern
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
      .join("");
    re = new RegExp(`^${body}$`, "s");
    if (GLOB_CACHE.size > 10_000) GLOB_CACHE.clear();
    GLOB_CACHE.set(pattern, re);
  }
  return re.test(name);
}

/** Whether any pattern of a list matches. */
export function anyMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => globMatches(pattern, name));
}

/** The member's namespace: what comes before each of its tool and prompt names. */
export function namespaceOf(member: Pick<MemberSpec, "prefix" | "separator">): string {
  return member.prefix === "" ? "" : `${member.prefix}${member.separator}`;
}

/** Whether the member's policy lets the tool through: allowed (or no allow-list) and not denied. */
export function toolAllowed(member: MemberSpec, original: string): boolean {
  if (member.allowTools.length > 0 && !anyMatches(member.allowTools, original)) return false;
  return !anyMatches(member.denyTools, original);
}

/** An input schema with the pinned arguments taken out of its properties and required list. */
export function withoutPinned(
  schema: Tool["inputSchema"],
  pinned: Readonly<Record<string, unknown>>,
): Tool["inputSchema"] {
  const names = Object.keys(pinned);
  if (names.length === 0) return schema;
  const properties = { ...(schema.properties ?? {}) };
  for (const name of names) delete properties[name];
  const required = schema.required?.filter((name) => !names.includes(name));
  const { required: _, ...rest } = schema;
  return {
    ...rest,
    properties,
    ...(required && required.length > 0 ? { required } : {}),
  } as Tool["inputSchema"];
}

/** The arguments sent to the member: the caller's, with pinned values over them. */
export function callArguments(
  given: Record<string, unknown> | undefined,
  pinned: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  return { ...(given ?? {}), ...pinned };
}

/** How one member tool is shown, or undefined when the member's policy hides it. */
export function exposeTool(member: MemberSpec, index: number, tool: Tool): ExposedTool | undefined {
  if (!toolAllowed(member, tool.name)) return undefined;
  const override = member.overrides.find((o) => o.tool === tool.name);
  const name = override?.name || `${namespaceOf(member)}${tool.name}`;
  const pinned = override?.pinnedArguments ?? {};
  const annotations =
    override && Object.keys(override.annotations).length > 0
      ? { ...(tool.annotations ?? {}), ...override.annotations }
      : tool.annotations;
  const shown: Tool = {
    ...tool,
    name,
    ...(override?.description ? { description: override.description } : {}),
    ...(annotations ? { annotations: annotations as Tool["annotations"] } : {}),
    inputSchema: withoutPinned(tool.inputSchema, pinned),
  };
  return {
    name,
    member: index,
    original: tool.name,
    tool: shown,
    pinned,
    renamed: !!override?.name,
  };
}

/**
 * Every tool of a virtual server, in member order. Collisions left at run time (a member's tool
 * taking a name another tool already has) are settled one way: a name given by an override wins
 * over a derived (prefixed) one, then the earlier member wins, then the member's own order; the
 * loser is hidden and reported.
 */
export function exposeTools(
  members: readonly MemberSpec[],
  toolsOf: ReadonlyArray<readonly Tool[] | undefined>,
): { tools: ExposedTool[]; collisions: Collision[] } {
  const candidates: ExposedTool[] = [];
  members.forEach((member, index) => {
    for (const tool of toolsOf[index] ?? []) {
      const exposed = exposeTool(member, index, tool);
      if (exposed) candidates.push(exposed);
    }
  });
  const rank = (t: ExposedTool) => (t.renamed ? 0 : 1);
  const order = candidates
    .map((tool, position) => ({ tool, position }))
    .sort((a, b) => rank(a.tool) - rank(b.tool) || a.position - b.position);
  const kept = new Map<string, ExposedTool>();
  const collisions: Collision[] = [];
  for (const { tool } of order) {
    const holder = kept.get(tool.name);
    if (holder) {
      collisions.push({
        name: tool.name,
        member: tool.member,
        original: tool.original,
        keptMember: holder.member,
      });
    } else kept.set(tool.name, tool);
  }
  // Shown in member order, whatever decided the collisions.
  return { tools: candidates.filter((t) => kept.get(t.name) === t), collisions };
}

/** A prompt name as clients see it, and back. */
export function exposedPromptName(member: MemberSpec, name: string): string {
  return `${namespaceOf(member)}${name}`;
}
