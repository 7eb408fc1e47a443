import { createHash } from "node:crypto";
import { canonicalJson } from "@berth/platform";

/** The value of the series `name` whose labels include `labels`, summed; 0 when there is none. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => match[2]?.includes(`${k}="${v}"`));
    if (has) total += Number(match[3]);
  }
  return total;
}

/** What the audit trail keeps of a call's arguments, computed independently of the gateway. */
export const digest = (value: unknown): string =>
  createHash("sha256").update(canonicalJson(value)).digest("hex");
