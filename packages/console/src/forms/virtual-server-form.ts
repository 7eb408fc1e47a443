import type { JsonObject } from "@bufbuild/protobuf";

/**
 * The virtual server form's drafts and their conversion to and from the API's shape, kept free
 * of React so they can be unit-tested. Lists (allow/deny patterns) are edited as text, one
 * pattern per line or comma-separated; pinned arguments as a JSON object.
 */

/** How a member's tool names are prefixed: the instance's name (unset), a chosen one, or none. */
export type PrefixMode = "instance" | "custom" | "none";

export interface OverrideDraft {
  readonly tool: string;
  readonly name: string;
  readonly description: string;
  /** A JSON object, or empty. */
  readonly pinned: string;
}

export interface MemberDraft {
  /** The instance's id. */
  readonly instance: string;
  readonly prefixMode: PrefixMode;
  readonly prefix: string;
  readonly separator: string;
  readonly allow: string;
  readonly deny: string;
  readonly overrides: readonly OverrideDraft[];
}

export interface VirtualServerDraft {
  readonly name: string;
  readonly description: string;
  readonly members: readonly MemberDraft[];
}

/** What the API takes (a subset of VirtualServer's init shape). */
export interface VirtualServerInput {
  name: string;
  description: string;
  members: {
    instance: string;
    prefix?: string;
    separator: string;
    allowTools: string[];
    denyTools: string[];
    toolOverrides: {
      tool: string;
      name: string;
      description: string;
      pinnedArguments?: JsonObject;
    }[];
  }[];
}

/** What the API answers (a subset of VirtualServer). */
export interface VirtualServerShape {
  readonly name: string;
  readonly description: string;
  readonly members: readonly {
    readonly instance: string;
    readonly prefix?: string | undefined;
    readonly separator: string;
    readonly allowTools: readonly string[];
    readonly denyTools: readonly string[];
    readonly toolOverrides: readonly {
      readonly tool: string;
      readonly name: string;
      readonly description: string;
      readonly pinnedArguments?: JsonObject | undefined;
    }[];
  }[];
}

/** The separators the gateway accepts between a prefix and a tool name ("_" when empty). */
export const SEPARATORS = ["_", "-", ".", "/", ":"] as const;

export const emptyMember = (instance = ""): MemberDraft => ({
  instance,
  prefixMode: "instance",
  prefix: "",
  separator: "_",
  allow: "",
  deny: "",
  overrides: [],
});

export const emptyOverride = (): OverrideDraft => ({
  tool: "",
  name: "",
  description: "",
  pinned: "",
});

/** Patterns typed one per line or comma-separated. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The field key of a member's field, as the form and the server's violations name it. */
export const memberField = (i: number, field: string) => `members[${i}].${field}`;
export const overrideField = (i: number, j: number, field: string) =>
  `members[${i}].tool_overrides[${j}].${field}`;

/**
 * The draft as the API's input, or the problems the browser can see itself (pinned arguments
 * that are not a JSON object), keyed like the server's field violations.
 */
export function toVirtualServer(draft: VirtualServerDraft): {
  value: VirtualServerInput;
  errors: Record<string, string>;
} {
  const errors: Record<string, string> = {};
  const members = draft.members.map((member, i) => ({
    instance: member.instance,
    ...(member.prefixMode === "instance"
      ? {}
      : { prefix: member.prefixMode === "none" ? "" : member.prefix.trim() }),
    separator: member.separator,
    allowTools: splitList(member.allow),
    denyTools: splitList(member.deny),
    toolOverrides: member.overrides.map((o, j) => {
      let pinnedArguments: JsonObject | undefined;
      if (o.pinned.trim() !== "") {
        try {
          const parsed: unknown = JSON.parse(o.pinned);
          if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
            errors[overrideField(i, j, "pinned_arguments")] = "must be a JSON object";
          else pinnedArguments = parsed as JsonObject;
        } catch {
          errors[overrideField(i, j, "pinned_arguments")] = "must be valid JSON";
        }
      }
      return {
        tool: o.tool.trim(),
        name: o.name.trim(),
        description: o.description,
        ...(pinnedArguments ? { pinnedArguments } : {}),
      };
    }),
  }));
  return {
    value: { name: draft.name.trim(), description: draft.description, members },
    errors,
  };
}

/** A stored virtual server as a draft to edit. */
export function fromVirtualServer(vs: VirtualServerShape): VirtualServerDraft {
  return {
    name: vs.name,
    description: vs.description,
    members: vs.members.map((m) => ({
      instance: m.instance,
      prefixMode: m.prefix === undefined ? "instance" : m.prefix === "" ? "none" : "custom",
      prefix: m.prefix ?? "",
      separator: m.separator || "_",
      allow: m.allowTools.join("\n"),
      deny: m.denyTools.join("\n"),
      overrides: m.toolOverrides.map((o) => ({
        tool: o.tool,
        name: o.name,
        description: o.description,
        pinned:
          o.pinnedArguments && Object.keys(o.pinnedArguments).length > 0
            ? JSON.stringify(o.pinnedArguments)
            : "",
      })),
    })),
  };
}

/**
 * The server's field violations keyed by the form's fields: without the request's
 * `virtual_server.` prefix, and a list item's problem (`allow_tools[1]`) on its list's field.
 * Several problems of one field are joined.
 */
export function fieldErrors(
  violations: readonly { field: string; description: string }[],
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const v of violations) {
    const key = v.field
      .replace(/^virtual_server\./, "")
      .replace(/(allow_tools|deny_tools)\[\d+\]$/, "$1");
    errors[key] = errors[key] ? `${errors[key]}; ${v.description}` : v.description;
  }
  return errors;
}
