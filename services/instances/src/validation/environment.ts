import {
  isObject,
  isSecretRef,
  LIMITS,
  type Problems,
  scalarText,
  formatSecretRef as secretRef,
} from "@berth/spec";
import type { JsonValue } from "@bufbuild/protobuf";
import { envValueProblem } from "./env-values.js";
import type { CatalogSchema, SecretContext } from "./types.js";

/**
 * Builds a docker spec's environment against the catalog entry's env_schema: unknown variables,
 * types and choices reported, required ones demanded, defaults filled in, and secret values moved
 * out (to ctx.toStore) with `secret_ref:` references left in their place.
 */
export function buildEnvironment(
  raw: JsonValue | undefined,
  at: string,
  catalog: CatalogSchema,
  ctx: SecretContext,
  problems: Problems,
): Record<string, string> {
  const out: Record<string, string> = {};
  const sources = new Map<string, string>(); // where each secret value came from, for errors
  const flagged = new Set<string>(); // reported already: not "required" as well
  const byName = new Map(catalog.variables.map((v) => [v.name, v]));
  if (raw !== undefined && !isObject(raw)) problems.add(at, "must be an object of variables");
  const given = isObject(raw) ? raw : {};
  for (const [name, value] of Object.entries(given)) {
    const field = `${at}.${name}`;
    const variable = byName.get(name);
    const text = scalarText(value);
    if (!variable) problems.add(field, `is not a variable of server "${catalog.serverName}"`);
    else if (text === undefined) {
      problems.add(field, "must be a string, number or boolean");
      flagged.add(name);
    } else if (text.length > (variable.secret ? LIMITS.secretValue : LIMITS.envValue)) {
      const limit = variable.secret ? LIMITS.secretValue : LIMITS.envValue;
      problems.add(field, `must be at most ${limit} characters`);
      flagged.add(name);
    } else if (isSecretRef(text)) {
      const own = text === secretRef(ctx.instanceId, name);
      if (!variable.secret || !own || !(ctx.stored.has(name) || name in ctx.given)) {
        problems.add(field, "is not a secret reference of this instance");
        flagged.add(name);
      }
    } else if (variable.secret) {
      if (name in ctx.given) problems.add(field, `is also given in ${ctx.givenAt}; give it once`);
      ctx.toStore.set(name, text);
      sources.set(name, field);
    } else out[name] = text;
  }
  for (const [name, value] of Object.entries(ctx.given)) {
    const field = `${ctx.givenAt}.${name}`;
    const variable = byName.get(name);
    if (!variable) problems.add(field, `is not a variable of server "${catalog.serverName}"`);
    else if (!variable.secret)
      problems.add(field, `is not a secret variable; set it in ${at} instead`);
    else if (value.length > LIMITS.secretValue) {
      problems.add(field, `must be at most ${LIMITS.secretValue} characters`);
      flagged.add(name);
    } else {
      ctx.toStore.set(name, value);
      sources.set(name, field);
    }
  }
  for (const variable of catalog.variables) {
    const { name } = variable;
    const field = `${at}.${name}`;
    if (variable.secret) {
      if (!ctx.toStore.has(name) && !ctx.stored.has(name) && variable.defaultValue !== undefined)
        ctx.toStore.set(name, variable.defaultValue);
      if (ctx.toStore.get(name) === "") ctx.toStore.delete(name); // empty: as if not given
      const value = ctx.toStore.get(name);
      if (value !== undefined) {
        const problem = envValueProblem(variable, value);
        if (problem) problems.add(sources.get(name) ?? field, problem);
        out[name] = secretRef(ctx.instanceId, name);
      } else if (ctx.stored.has(name)) {
        out[name] = secretRef(ctx.instanceId, name);
      } else if (variable.required && !flagged.has(name)) {
        problems.add(field, `is required (a secret: give it in ${ctx.givenAt}.${name})`);
      }
      continue;
    }
    const value = out[name] ?? variable.defaultValue;
    if (value === undefined || value === "") {
      if (variable.required && !flagged.has(name)) problems.add(field, "is required");
      continue;
    }
    out[name] = value;
    const problem = envValueProblem(variable, value);
    if (problem) problems.add(field, problem);
  }
  return out;
}
