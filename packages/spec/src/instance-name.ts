import { LIMITS } from "./limits.js";
import { isUuid } from "./uuid.js";

/** Instance names are DNS labels: they appear in the MCP path /mcp/<name> and in container names. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why an instance name is refused, or undefined. A UUID-shaped name is refused: ids and names
 * share the same paths and allow-lists, so such a name could be taken for another instance's id.
 */
export function instanceNameProblem(name: string): string | undefined {
  if (!name) return "is required";
  if (name.length > LIMITS.name || !NAME.test(name))
    return `must be lowercase letters, digits and dashes (at most ${LIMITS.name}), like my-server`;
  if (isUuid(name)) return "must not look like an id (a UUID)";
  return undefined;
}
