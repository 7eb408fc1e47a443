/** The MCP methods named in metric labels; any other method a client sends is `other`. */
const METHODS = new Set([
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/roots/list_changed",
]);

/** The method as a label: bounded, since clients choose what they send. */
export function methodLabel(method: string): string {
  if (method === "") return "unknown";
  return METHODS.has(method) ? method : "other";
}

/**
 * Tool names as labels, bounded: the first `max` distinct names are kept, later ones are
 * `_other`, so a client inventing names cannot grow the gateway's series without end.
 */
export function createToolLabels(max = 1_000): (tool: string | undefined) => string {
  const seen = new Set<string>();
  return (tool) => {
    if (!tool) return "";
    if (seen.has(tool)) return tool;
    if (seen.size >= max) return "_other";
    seen.add(tool);
    return tool;
  };
}
