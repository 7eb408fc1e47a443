import { StartupError } from "@berth/platform";

/**
 * Which container engine runs an instance whose json_spec is of type docker: the runtime's
 * configuration, never the API. BERTH_RUNTIME_DOCKER_DRIVER names the default engine;
 * BERTH_RUNTIME_PLACEMENT optionally places instances by name, as `engine=glob` rules separated by
 * commas (first match wins, `*` matches any run of characters), e.g. `swarm=team-a-*,docker=dev-*`.
 */
export interface EnginePlacement {
  /** The default engine. */
  fallback: string;
  rules: Array<{ engine: string; pattern: string; matcher: RegExp }>;
  /** Every engine the configuration names (each is started and collected). */
  engines: string[];
  /** The engine of an instance by its name. */
  engineFor(name: string | undefined): string;
}

/** A placement rule list as its variable holds it; checked by the config schema. */
export const PLACEMENT_PATTERN =
  /^[a-z][a-z0-9-]*=[A-Za-z0-9_.*-]+(,[a-z][a-z0-9-]*=[A-Za-z0-9_.*-]+)*$/;

/** Reads the placement configuration; an engine not in known is a configuration error. */
export function parsePlacement(
  fallback: string,
  rules: string | undefined,
  known: readonly string[],
): EnginePlacement {
  const problems: string[] = [];
  if (!known.includes(fallback)) {
    problems.push(
      `BERTH_RUNTIME_DOCKER_DRIVER must be one of ${known.join(", ")}: got ${fallback}`,
    );
  }
  const parsed = (rules ? rules.split(",") : []).map((rule) => {
    const at = rule.indexOf("=");
    const engine = rule.slice(0, at);
    const pattern = rule.slice(at + 1);
    if (!known.includes(engine)) {
      problems.push(`BERTH_RUNTIME_PLACEMENT names engine ${engine}; known: ${known.join(", ")}`);
    }
    const source = pattern.split("*").map(escapeRegExp).join(".*");
    return { engine, pattern, matcher: new RegExp(`^${source}$`) };
  });
  if (problems.length > 0) throw new StartupError(`invalid configuration: ${problems.join("; ")}`);
  return {
    fallback,
    rules: parsed,
    engines: [...new Set([fallback, ...parsed.map((r) => r.engine)])],
    engineFor: (name) =>
      (name === undefined ? undefined : parsed.find((r) => r.matcher.test(name))?.engine) ??
      fallback,
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
