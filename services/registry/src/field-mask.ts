import { invalidArgument } from "@berth/platform";
import { type McpServer, McpServerSchema } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { clone, type DescField, isFieldSet } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";

/** Fields a client never writes: the server assigns them (revision is a check, not a value). */
const NOT_UPDATABLE = new Set(["id", "create_time", "update_time", "revision", "imported"]);

const UPDATABLE = McpServerSchema.fields.filter((f) => !NOT_UPDATABLE.has(f.name));

/**
 * Applies an update: the fields named in the mask (proto or JSON names; `*` for all) are copied
 * from `patch` onto a copy of `current`. Without a mask, every field set in `patch` is copied.
 * Unknown, nested or read-only paths are INVALID_ARGUMENT naming update_mask.
 */
export function applyUpdateMask(
  current: McpServer,
  patch: McpServer,
  mask: FieldMask | undefined,
): McpServer {
  const fields = mask && mask.paths.length > 0 ? resolvePaths(mask.paths) : impliedFields(patch);
  const next = clone(McpServerSchema, current);
  const target = next as unknown as Record<string, unknown>;
  const source = patch as unknown as Record<string, unknown>;
  for (const field of fields) {
    const value = source[field.localName];
    target[field.localName] = Array.isArray(value) ? [...value] : value;
  }
  return next;
}

function impliedFields(patch: McpServer): DescField[] {
  const set = UPDATABLE.filter((f) => isFieldSet(patch, f));
  if (set.length === 0) {
    throw invalidArgument([
      { field: "update_mask", description: "names no field and the request sets none" },
    ]);
  }
  return set;
}

function resolvePaths(paths: readonly string[]): DescField[] {
  if (paths.length === 1 && paths[0] === "*") return UPDATABLE;
  const fields: DescField[] = [];
  for (const path of paths) {
    const field = McpServerSchema.fields.find((f) => f.name === path || f.jsonName === path);
    let problem: string | undefined;
    if (!field) problem = path.includes(".") ? "nested paths are not supported" : "no such field";
    else if (NOT_UPDATABLE.has(field.name)) problem = "is set by the server";
    if (problem || !field) {
      throw invalidArgument([
        { field: "update_mask", description: `${JSON.stringify(path)}: ${problem}` },
      ]);
    }
    if (!fields.includes(field)) fields.push(field);
  }
  return fields;
}
